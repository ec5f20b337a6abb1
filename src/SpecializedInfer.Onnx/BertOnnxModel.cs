using SpecializedInfer.Encoders;

namespace SpecializedInfer.Onnx;

/// <summary>One weight of the encoder under its GGUF name, dims in ggml order (contiguous first), data row-major.</summary>
public sealed record BertTensor(string Name, long[] Dims, float[] Data);

/// <summary>
/// A BERT-family encoder read from an ONNX graph: the topology found by walking the graph and every weight under
/// llama.cpp's BERT tensor names, matrices already in GGUF's [out][in] layout.
/// </summary>
public sealed record BertOnnxModel(BertConfig Config, IReadOnlyList<BertTensor> Tensors, string Activation);
