using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Synthesis;

/// <summary>Writes a GGUF LLaMA-family model (llama, qwen2) of a given shape with seeded random weights, loadable by llama.cpp too.</summary>
public static class SyntheticModel
{
    public static void Write(SyntheticModelSpec spec, string path)
    {
        spec.Validate();
        var kvHeads = spec.EffectiveKvHeads;
        var headDim = spec.EffectiveHeadDim;
        var kvDim = kvHeads * headDim;
        var queryDim = spec.QueryDim;

        var w = new GgufWriter();
        string K(string suffix) => Models.LlamaModelRules.Key(spec.Architecture, suffix);
        w.Add("general.architecture", spec.Architecture);
        w.Add("general.name", spec.Name);
        w.Add(K("context_length"), (uint)spec.ContextLength);
        w.Add(K("embedding_length"), (uint)spec.Dim);
        w.Add(K("feed_forward_length"), (uint)spec.HiddenDim);
        w.Add(K("attention.head_count"), (uint)spec.Heads);
        w.Add(K("attention.head_count_kv"), (uint)kvHeads);
        w.Add(K("block_count"), (uint)spec.Layers);
        if (spec.HeadDim is { } width)
        {
            w.Add(K("attention.key_length"), (uint)width);
            w.Add(K("attention.value_length"), (uint)width);
        }
        w.Add(K("rope.dimension_count"), (uint)spec.EffectiveRotaryDims);
        w.Add(K("rope.freq_base"), spec.RopeTheta);
        w.Add(K("attention.layer_norm_rms_epsilon"), spec.NormEps);
        w.Add(K("vocab_size"), (uint)spec.VocabSize);
        if (spec.ByteLevelVocabulary is { } bpe)
        {
            var (tokens, types, merges, bos, eos) = bpe.Create(spec.VocabSize);
            w.Add("tokenizer.ggml.model", "gpt2");
            w.Add("tokenizer.ggml.pre", bpe.Pre);
            w.Add("tokenizer.ggml.tokens", tokens);
            w.Add("tokenizer.ggml.token_type", types);
            w.Add("tokenizer.ggml.merges", merges);
            w.Add("tokenizer.ggml.bos_token_id", (uint)bos);
            w.Add("tokenizer.ggml.eos_token_id", (uint)eos);
        }
        else
        {
            var (tokens, scores, types) = SyntheticVocabulary.Create(spec.VocabSize, spec.Seed);
            w.Add("tokenizer.ggml.model", "llama");
            w.Add("tokenizer.ggml.tokens", tokens);
            w.Add("tokenizer.ggml.scores", scores);
            w.Add("tokenizer.ggml.token_type", types);
            w.Add("tokenizer.ggml.unknown_token_id", 0u);
            w.Add("tokenizer.ggml.bos_token_id", 1u);
            w.Add("tokenizer.ggml.eos_token_id", 2u);
        }

        // Unit-gain uniform init (a = sqrt(3 / fan_in)) keeps activations and logits of order 1 through any depth.
        void Matrix(string name, int rows, int cols) =>
            w.AddTensor(name, [cols, rows], spec.MatrixType, () => Encode(Random(spec.Seed, name, (long)rows * cols, MathF.Sqrt(3f / cols), 0f), spec.MatrixType));
        void Norm(string name, int size) =>
            w.AddTensor(name, [size], GgmlType.F32, () => Encode(Random(spec.Seed, name, size, 0.1f, 1f), GgmlType.F32));

        // Biases of order 0.1: large enough that a dropped or misplaced bias changes every logit.
        void Bias(string name, int size) =>
            w.AddTensor(name, [size], GgmlType.F32, () => Encode(Random(spec.Seed, name, size, 0.1f, 0f), GgmlType.F32));

        Matrix("token_embd.weight", spec.VocabSize, spec.Dim);
        Norm("output_norm.weight", spec.Dim);
        if (spec.Llama3RopeScaling)
            w.AddTensor("rope_freqs.weight", [spec.EffectiveRotaryDims / 2], GgmlType.F32,
                () => Encode(Llama3RopeScaling.Factors(spec.EffectiveRotaryDims, spec.RopeTheta), GgmlType.F32));
        if (!spec.TiedOutput) Matrix("output.weight", spec.VocabSize, spec.Dim);
        for (var l = 0; l < spec.Layers; l++)
        {
            Matrix($"blk.{l}.attn_q.weight", queryDim, spec.Dim);
            Matrix($"blk.{l}.attn_k.weight", kvDim, spec.Dim);
            Matrix($"blk.{l}.attn_v.weight", kvDim, spec.Dim);
            if (Planning.DecoderArchitecture.HasAttentionBias(spec.Architecture))
            {
                Bias($"blk.{l}.attn_q.bias", queryDim);
                Bias($"blk.{l}.attn_k.bias", kvDim);
                Bias($"blk.{l}.attn_v.bias", kvDim);
            }
            Matrix($"blk.{l}.attn_output.weight", spec.Dim, queryDim);
            Norm($"blk.{l}.attn_norm.weight", spec.Dim);
            Matrix($"blk.{l}.ffn_gate.weight", spec.HiddenDim, spec.Dim);
            Matrix($"blk.{l}.ffn_down.weight", spec.Dim, spec.HiddenDim);
            Matrix($"blk.{l}.ffn_up.weight", spec.HiddenDim, spec.Dim);
            Norm($"blk.{l}.ffn_norm.weight", spec.Dim);
        }
        w.Write(path);
    }

    private static float[] Random(ulong seed, string name, long count, float amplitude, float offset)
    {
        var rng = new SplitMix64(seed ^ SplitMix64.Hash(name));
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = offset + amplitude * rng.NextSigned();
        return values;
    }

    private static byte[] Encode(float[] values, GgmlType type)
    {
        switch (type)
        {
            case GgmlType.F32:
                return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            case GgmlType.F16:
            {
                var halves = new Half[values.Length];
                for (var i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
                return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
            }
            case GgmlType.BF16:
            {
                var raw = new ushort[values.Length];
                for (var i = 0; i < values.Length; i++)
                {
                    // Round to nearest even, as ggml's fp32→bf16 does for finite values.
                    var bits = BitConverter.SingleToUInt32Bits(values[i]);
                    raw[i] = (ushort)((bits + (0x7FFF + ((bits >> 16) & 1))) >> 16);
                }
                return MemoryMarshal.AsBytes(raw.AsSpan()).ToArray();
            }
            case GgmlType.Q8_0:
                return Quantization.ReferenceQuantizer.Q8_0(values);
            default:
                throw new ArgumentOutOfRangeException($"Synthetic weights are written as F32, F16, BF16 or Q8_0, not {type}.", innerException: null);
        }
    }
}
