using Onnx;
using SpecializedInfer.Encoders;

namespace SpecializedInfer.Onnx;

/// <summary>
/// Reads a BERT-family encoder from an ONNX file as PyTorch and Hugging Face export it (inputs <c>input_ids</c>,
/// <c>attention_mask</c>, <c>token_type_ids</c>; output the last token states). The model's facts are found by
/// walking the graph, not assumed: the embedding gathers give vocabulary, positions and token types; each
/// LayerNorm pattern (or LayerNormalization node) its epsilon; each attention block's Reshape its head count; the
/// number of blocks is how many the walk finds before the graph's output. Anything the walk does not recognize
/// (a missing initializer, a shape that disagrees, an operator where another was expected, an activation other
/// than exact GELU) throws <see cref="OnnxFormatException"/> naming the node and what was expected there.
/// </summary>
public static class BertOnnxReader
{
    public static BertOnnxModel Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"The ONNX file '{path}' does not exist.", path);
        if (info.Length > OnnxGraph.MaxFileBytes)
            throw new OnnxFormatException(path, "the file", $"an ONNX file under 2 GiB (protobuf's limit), found {info.Length:N0} bytes");
        return Read(path, File.ReadAllBytes(path));
    }

    /// <summary>Reads a model held in memory; <paramref name="sourceName"/> names it in errors.</summary>
    public static BertOnnxModel Read(string sourceName, byte[] bytes) => new Walk(OnnxGraph.Parse(sourceName, bytes)).Run();

    private sealed class Walk(OnnxGraph g)
    {
        private readonly List<BertTensor> _tensors = [];
        private float? _eps;
        private int _dim;

        public BertOnnxModel Run()
        {
            var inputs = g.Graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var name in new[] { "input_ids", "attention_mask", "token_type_ids" })
                if (!inputs.Contains(name))
                    throw new OnnxFormatException(g.FilePath, "the graph inputs", $"an input named '{name}' (BERT's inputs are input_ids, attention_mask, token_type_ids), found {string.Join(", ", inputs.Select(i => $"'{i}'"))}");

            // Embeddings: three gathers summed, then LayerNorm.
            var word = EmbeddingGather("input_ids", "the word embeddings");
            var wordShape = g.ConstantShape(word.Input[0])!;
            var (vocab, dim) = ((int)wordShape[0], (int)wordShape[1]);
            _dim = dim;
            string? typesName = null, positionsName = null;
            var x = word.Output[0];
            while (g.Consumers(x).Where(n => n.OpType == "Add").ToList() is [var add])
            {
                var other = OnnxGraph.Other(add, x);
                if (g.Producer(other) is not { OpType: "Gather" } gather || !g.IsConstant(gather.Input[0]))
                    throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(add), "the embedding sum to add a Gather from an embedding table (token types or positions)");
                if (gather.Input[1] == "token_type_ids") typesName = gather.Input[0];
                else positionsName = gather.Input[0];
                x = add.Output[0];
            }
            if (typesName is null || positionsName is null)
                throw new OnnxFormatException(g.FilePath, g.Describe(word.Output[0]), "the word embeddings to be summed with token-type and position embeddings (two Add nodes over Gathers)");
            var types = (int)RequireShape(typesName, "the token-type embeddings", dim)[0];
            var positions = (int)RequireShape(positionsName, "the position embeddings", dim)[0];
            Add(BertConfig.Keys.TokenEmbedding, [dim, vocab], g.Floats(word.Input[0], [vocab, dim], "the word embeddings"));
            Add(BertConfig.Keys.TokenTypes, [dim, types], g.Floats(typesName, [types, dim], "the token-type embeddings"));
            Add(BertConfig.Keys.PositionEmbedding, [dim, positions], g.Floats(positionsName, [positions, dim], "the position embeddings"));
            var h = LayerNorm(x, BertConfig.Keys.EmbeddingNorm, "the embedding LayerNorm");

            int layers = 0, heads = 0, hidden = 0;
            string? activation = null;
            while (g.Consumers(h).Any(IsLinear))
            {
                var (layerHeads, layerHidden, layerActivation, next) = Layer(layers, h);
                if (layers > 0 && (layerHeads != heads || layerHidden != hidden))
                    throw new OnnxFormatException(g.FilePath, $"layer {layers}", $"every layer to have {heads} heads and feed-forward width {hidden}, found {layerHeads} and {layerHidden}");
                (heads, hidden, activation, h) = (layerHeads, layerHidden, layerActivation, next);
                layers++;
            }
            if (layers == 0)
                throw new OnnxFormatException(g.FilePath, g.Describe(h), "the first encoder layer's query, key and value MatMuls on the embeddings' LayerNorm output, found none");
            var outputs = g.Graph.Output.Select(o => o.Name).ToList();
            if (!outputs.Contains(h))
                throw new OnnxFormatException(g.FilePath, g.Describe(h), $"the last layer's output to be a graph output (the token states), found outputs {string.Join(", ", outputs.Select(o => $"'{o}'"))}");

            var config = new BertConfig
            {
                Dim = dim, HiddenDim = hidden, Layers = layers, Heads = heads, VocabSize = vocab, ContextLength = positions,
                TokenTypes = types, NormEps = _eps!.Value,
            };
            return new BertOnnxModel(config, _tensors, activation!);
        }

        private (int Heads, int Hidden, string Activation, string Output) Layer(int layer, string h)
        {
            string L(string part, string kind) => BertConfig.Keys.Layer(layer, part, kind);
            var where = $"layer {layer}";
            var qkv = g.Consumers(h).Where(IsLinear).ToList();
            if (qkv.Count != 3)
                throw new OnnxFormatException(g.FilePath, g.Describe(h), $"{where}: three MatMuls with weight initializers (query, key, value) on the layer input, found {qkv.Count}");
            // Which projection is which follows from where its heads go: query and key meet in the score MatMul
            // (key transposed to [0,2,3,1]), value is multiplied by the softmax.
            NodeProto? scores = null, context = null;
            (NodeProto MatMul, NodeProto Reshape)? q = null, k = null, v = null;
            foreach (var mm in qkv)
            {
                var biased = BiasAdd(mm, where);
                var reshape = g.Next(biased.Output[0], "Reshape", $"{where}: splitting a projection into heads");
                var transpose = g.Next(reshape.Output[0], "Transpose", $"{where}: moving heads before positions");
                var use = g.Next(transpose.Output[0], "MatMul", $"{where}: attention scores or context");
                if (g.Producer(use.Input[0]) is { OpType: "Softmax" } && use.Input[1] == transpose.Output[0]) { v = (mm, reshape); context = use; }
                else if (use.Input[0] == transpose.Output[0]) { q = (mm, reshape); scores = use; }
                else { k = (mm, reshape); scores ??= use; }
            }
            if (q is null || k is null || v is null || scores is null || context is null)
                throw new OnnxFormatException(g.FilePath, g.Describe(h), $"{where}: query, key and value projections (query and key meeting in one score MatMul, value multiplied by the softmax)");
            var (heads, headDim) = HeadSplit(q.Value.Reshape, where);
            if (heads * headDim != _dim)
                throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(q.Value.Reshape), $"{where}: heads × head size equal to the width {_dim}, found {heads} × {headDim}");

            // scores / sqrt(head size) + mask → softmax → × value
            var scale = g.Consumers(scores.Output[0]).FirstOrDefault(n => n.OpType is "Div" or "Mul")
                        ?? throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(scores), $"{where}: the scores scaled by a Div or Mul");
            var factor = g.Scalar(OnnxGraph.Other(scale, scores.Output[0]));
            var expected = Math.Sqrt(headDim);
            if (factor is not { } f || Math.Abs((scale.OpType == "Div" ? f : 1 / f) - expected) > 1e-3 * expected)
                throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(scale), $"{where}: scores divided by sqrt(head size) = {expected:0.####}, found {(factor is null ? "no constant" : $"{scale.OpType} by {factor:0.####}")}");
            var mask = g.Next(scale.Output[0], "Add", $"{where}: the padding mask added to the scores");
            var softmax = g.Next(mask.Output[0], "Softmax", $"{where}: the attention softmax");
            if (context.Input[0] != softmax.Output[0])
                throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(context), $"{where}: the value heads multiplied by the attention softmax");

            var merged = g.Next(g.Next(context.Output[0], "Transpose", $"{where}: heads back behind positions").Output[0], "Reshape", $"{where}: merging heads");
            var outMm = g.Consumers(merged.Output[0]).FirstOrDefault(IsLinear)
                        ?? throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(merged), $"{where}: the attention output projection (a MatMul with a weight initializer)");
            var attnOut = Residual(BiasAdd(outMm, where), h, where);
            AddLinear(q.Value.MatMul, L("attn_q", "weight"), L("attn_q", "bias"), _dim, _dim, where, "query");
            AddLinear(k.Value.MatMul, L("attn_k", "weight"), L("attn_k", "bias"), _dim, _dim, where, "key");
            AddLinear(v.Value.MatMul, L("attn_v", "weight"), L("attn_v", "bias"), _dim, _dim, where, "value");
            AddLinear(outMm, L("attn_output", "weight"), L("attn_output", "bias"), _dim, _dim, where, "attention output");
            var h1 = LayerNorm(attnOut, $"blk.{layer}.attn_output_norm", $"{where}: the attention LayerNorm");

            // Feed-forward: up → GELU → down, residual, LayerNorm.
            var up = g.Consumers(h1).FirstOrDefault(IsLinear)
                     ?? throw new OnnxFormatException(g.FilePath, g.Describe(h1), $"{where}: the feed-forward up projection (a MatMul with a weight initializer)");
            var hidden = (int)g.ConstantShape(up.Input[1])![1];
            var (activation, down) = Activation(BiasAdd(up, where).Output[0], where);
            AddLinear(up, L("ffn_up", "weight"), L("ffn_up", "bias"), _dim, hidden, where, "feed-forward up");
            AddLinear(down, L("ffn_down", "weight"), L("ffn_down", "bias"), hidden, _dim, where, "feed-forward down");
            var ffOut = Residual(BiasAdd(down, where), h1, where);
            return (heads, hidden, activation, LayerNorm(ffOut, $"blk.{layer}.layer_output_norm", $"{where}: the output LayerNorm"));
        }

        private bool IsLinear(NodeProto n) => n.OpType == "MatMul" && n.Input.Count == 2 && g.ConstantShape(n.Input[1]) is { Length: 2 };

        private NodeProto BiasAdd(NodeProto matmul, string where)
        {
            var add = g.Consumers(matmul.Output[0]).FirstOrDefault(n => n.OpType == "Add" && g.ConstantShape(OnnxGraph.Other(n, matmul.Output[0])) is { Length: 1 })
                      ?? throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(matmul), $"{where}: an Add of a bias initializer after the MatMul");
            return add;
        }

        private string Residual(NodeProto biasAdd, string input, string where)
        {
            var add = g.Next(biasAdd.Output[0], "Add", $"{where}: the residual connection");
            if (OnnxGraph.Other(add, biasAdd.Output[0]) != input)
                throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(add), $"{where}: a residual Add of the sub-layer's input '{input}'");
            return add.Output[0];
        }

        /// <summary>Exact GELU, x · ½(1 + erf(x/√2)), as a handful of elementwise nodes; returns the down MatMul after it.</summary>
        private (string Activation, NodeProto Down) Activation(string x, string where)
        {
            var seen = new HashSet<NodeProto>();
            var ops = new SortedSet<string>(StringComparer.Ordinal);
            var frontier = new Queue<string>([x]);
            NodeProto? down = null;
            while (frontier.Count > 0 && seen.Count < 16)
                foreach (var n in g.Consumers(frontier.Dequeue()))
                {
                    if (IsLinear(n)) { down ??= n; continue; }
                    if (!seen.Add(n)) continue;
                    ops.Add(n.OpType);
                    frontier.Enqueue(n.Output[0]);
                }
            if (down is null || !ops.Contains("Erf") || !ops.IsSubsetOf(["Div", "Mul", "Add", "Erf"]))
                throw new OnnxFormatException(g.FilePath, g.Describe(x), $"{where}: exact GELU (Div, Erf, Add, Mul) then the down projection, found {(ops.Count == 0 ? "no activation" : string.Join(", ", ops))}{(down is null ? " and no down projection" : "")}");
            return ("gelu", down);
        }

        private (int Heads, int HeadDim) HeadSplit(NodeProto reshape, string where)
        {
            var shape = reshape.Input[1];
            long[]? dims = g.Int64s(shape);
            if (dims is null && g.Producer(shape) is { OpType: "Concat" } concat && concat.Input.Count >= 2)
            {
                var last = concat.Input.Skip(concat.Input.Count - 2).Select(i => g.Int64s(i)).ToList();
                if (last.All(d => d is { Length: 1 })) dims = [last[0]![0], last[1]![0]];
            }
            if (dims is not { Length: >= 2 } || dims[^1] <= 0 || dims[^2] <= 0)
                throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(reshape), $"{where}: a Reshape to [batch, positions, heads, head size] with constant heads and head size");
            return ((int)dims[^2], (int)dims[^1]);
        }

        private NodeProto EmbeddingGather(string input, string role)
        {
            var gather = g.Consumers(input).FirstOrDefault(n => n.OpType == "Gather" && g.ConstantShape(n.Input[0]) is { Length: 2 })
                         ?? throw new OnnxFormatException(g.FilePath, $"input '{input}'", $"a Gather from {role} (a [rows, width] initializer) on input '{input}'");
            return gather;
        }

        private long[] RequireShape(string name, string role, int dim)
        {
            var shape = g.ConstantShape(name)!;
            if (shape is not [> 0, var w] || w != dim)
                throw new OnnxFormatException(g.FilePath, $"initializer '{name}'", $"{role} of shape [rows, {dim}], found [{string.Join(", ", shape)}]");
            return shape;
        }

        /// <summary>LayerNorm over the last axis, as one LayerNormalization node or the exporter's nine-node pattern.</summary>
        private string LayerNorm(string x, string ggufName, string role)
        {
            string gamma, beta, output;
            double? eps;
            if (g.Consumers(x).FirstOrDefault(n => n.OpType == "LayerNormalization") is { } fused)
            {
                if (fused.Input.Count < 3)
                    throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(fused), $"{role}: a LayerNormalization with scale and bias");
                (gamma, beta, output) = (fused.Input[1], fused.Input[2], fused.Output[0]);
                eps = fused.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5;
            }
            else
            {
                var mean = g.Next(x, "ReduceMean", $"{role}: the mean");
                var sub = g.Next(x, "Sub", $"{role}: subtracting the mean");
                if (sub.Input[1] != mean.Output[0])
                    throw new OnnxFormatException(g.FilePath, OnnxGraph.Describe(sub), $"{role}: x minus its mean");
                var pow = g.Next(sub.Output[0], "Pow", $"{role}: squaring");
                var variance = g.Next(pow.Output[0], "ReduceMean", $"{role}: the variance");
                var addEps = g.Next(variance.Output[0], "Add", $"{role}: adding epsilon");
                eps = g.Scalar(OnnxGraph.Other(addEps, variance.Output[0]));
                var sqrt = g.Next(addEps.Output[0], "Sqrt", $"{role}: the standard deviation");
                var div = g.Next(sqrt.Output[0], "Div", $"{role}: normalizing");
                var mul = g.Next(div.Output[0], "Mul", $"{role}: the scale");
                var add = g.Next(mul.Output[0], "Add", $"{role}: the shift");
                (gamma, beta, output) = (OnnxGraph.Other(mul, div.Output[0]), OnnxGraph.Other(add, mul.Output[0]), add.Output[0]);
            }
            if (eps is not (> 0 and < 1))
                throw new OnnxFormatException(g.FilePath, g.Describe(output), $"{role}: a constant epsilon between 0 and 1, found {(eps is null ? "none" : eps.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture))}");
            if (_eps is { } known && Math.Abs(known - eps.Value) > 1e-3 * known)
                throw new OnnxFormatException(g.FilePath, g.Describe(output), $"{role}: the same epsilon as the other LayerNorms ({known:R}), found {eps:R}");
            _eps ??= (float)eps.Value;
            Add(ggufName + ".weight", [_dim], g.Floats(gamma, [_dim], $"{role}'s scale"));
            Add(ggufName + ".bias", [_dim], g.Floats(beta, [_dim], $"{role}'s shift"));
            return output;
        }

        /// <summary>A MatMul's [in, out] weight, stored transposed as GGUF's [out][in] rows, and its bias.</summary>
        private void AddLinear(NodeProto matmul, string weightName, string biasName, int inputs, int outputs, string where, string role)
        {
            var w = g.Floats(matmul.Input[1], [inputs, outputs], $"{where}: the {role} weight");
            var transposed = new float[w.Length];
            for (var i = 0; i < inputs; i++)
                for (var o = 0; o < outputs; o++)
                    transposed[(long)o * inputs + i] = w[(long)i * outputs + o];
            Add(weightName, [inputs, outputs], transposed);
            var biasAdd = BiasAdd(matmul, where);
            Add(biasName, [outputs], g.Floats(OnnxGraph.Other(biasAdd, matmul.Output[0]), [outputs], $"{where}: the {role} bias"));
        }

        private void Add(string name, long[] dims, float[] data) => _tensors.Add(new BertTensor(name, dims, data));
    }
}
