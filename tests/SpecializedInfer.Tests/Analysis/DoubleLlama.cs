using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Analysis;

/// <summary>
/// A LLaMA forward pass in double precision, written for the analysis tests from the model file's tensors and the
/// architecture's definition (RMSNorm, rotary embeddings on adjacent pairs, grouped-query causal attention, SwiGLU):
/// an oracle that shares no code with the reference engine or the analysis. A step is (weights, attention?, FFN?).
/// </summary>
public sealed class DoubleLlama
{
    public sealed record Layer(double[] AttnNorm, double[] Q, double[] K, double[] V, double[] O, double[] FfnNorm, double[] Gate, double[] Up, double[] Down)
    {
        public double[][] All => [AttnNorm, Q, K, V, O, FfnNorm, Gate, Up, Down];
    }

    public readonly record struct Step(Layer Weights, bool Attention = true, bool FeedForward = true);

    public int Dim, Hidden, Heads, KvHeads, HeadDim, Vocab, Layers;
    public double Eps, Theta;
    public double[] Embedding = [], OutputNorm = [], Output = [];
    public Layer[] Blocks = [];

    public static DoubleLlama Load(string path)
    {
        using var f = GgufFile.Open(path);
        double[] T(string name) => f.GetFloat32(name).ToArray().Select(v => (double)v).ToArray();
        var m = new DoubleLlama
        {
            Dim = (int)f.GetInteger("llama.embedding_length"),
            Hidden = (int)f.GetInteger("llama.feed_forward_length"),
            Heads = (int)f.GetInteger("llama.attention.head_count"),
            KvHeads = (int)f.GetInteger("llama.attention.head_count_kv"),
            Layers = (int)f.GetInteger("llama.block_count"),
            Eps = f.GetFloat("llama.attention.layer_norm_rms_epsilon"),
            Theta = f.GetFloatOrNull("llama.rope.freq_base") ?? 10000,
        };
        m.HeadDim = m.Dim / m.Heads;
        m.Embedding = T("token_embd.weight");
        m.Vocab = m.Embedding.Length / m.Dim;
        m.OutputNorm = T("output_norm.weight");
        m.Output = f.HasTensor("output.weight") ? T("output.weight") : m.Embedding;
        m.Blocks = Enumerable.Range(0, m.Layers).Select(l => new Layer(
            T($"blk.{l}.attn_norm.weight"), T($"blk.{l}.attn_q.weight"), T($"blk.{l}.attn_k.weight"), T($"blk.{l}.attn_v.weight"),
            T($"blk.{l}.attn_output.weight"), T($"blk.{l}.ffn_norm.weight"), T($"blk.{l}.ffn_gate.weight"), T($"blk.{l}.ffn_up.weight"),
            T($"blk.{l}.ffn_down.weight"))).ToArray();
        return m;
    }

    /// <summary>LaCo: θ_first + Σ_k (θ_first+k − θ_first), per tensor.</summary>
    public Layer Merged(int first, int count)
    {
        var parts = Enumerable.Range(first, count).Select(l => Blocks[l].All).ToList();
        var merged = parts[0].Select((tensor, k) => tensor.Select((v, i) => v + parts.Skip(1).Sum(p => p[k][i] - v)).ToArray()).ToArray();
        return new Layer(merged[0], merged[1], merged[2], merged[3], merged[4], merged[5], merged[6], merged[7], merged[8]);
    }

    public IReadOnlyList<Step> Full => Blocks.Select(b => new Step(b)).ToList();

    /// <summary>Per position: the states entering step 0 .. leaving the last step, and the logits.</summary>
    public (double[][][] States, double[][] Logits) Run(IReadOnlyList<Step> steps, int[] tokens)
    {
        var n = tokens.Length;
        var kvDim = KvHeads * HeadDim;
        var states = new double[n][][];
        var logits = new double[n][];
        var keys = steps.Select(_ => new double[n][]).ToArray();
        var values = steps.Select(_ => new double[n][]).ToArray();
        for (var p = 0; p < n; p++)
        {
            var x = Embedding.AsSpan(tokens[p] * Dim, Dim).ToArray();
            states[p] = new double[steps.Count + 1][];
            states[p][0] = (double[])x.Clone();
            for (var s = 0; s < steps.Count; s++)
            {
                var w = steps[s].Weights;
                if (steps[s].Attention)
                {
                    var xn = Norm(x, w.AttnNorm);
                    var q = MatVec(w.Q, xn, Dim);
                    var k = MatVec(w.K, xn, kvDim);
                    Rope(q, p);
                    Rope(k, p);
                    keys[s][p] = k;
                    values[s][p] = MatVec(w.V, xn, kvDim);
                    var att = new double[Dim];
                    for (var h = 0; h < Heads; h++)
                    {
                        var kv = h / (Heads / KvHeads) * HeadDim;
                        var scores = new double[p + 1];
                        for (var t = 0; t <= p; t++)
                        {
                            double dot = 0;
                            for (var i = 0; i < HeadDim; i++) dot += q[h * HeadDim + i] * keys[s][t][kv + i];
                            scores[t] = dot / Math.Sqrt(HeadDim);
                        }
                        var max = scores.Max();
                        var e = scores.Select(v => Math.Exp(v - max)).ToArray();
                        var sum = e.Sum();
                        for (var t = 0; t <= p; t++)
                            for (var i = 0; i < HeadDim; i++) att[h * HeadDim + i] += e[t] / sum * values[s][t][kv + i];
                    }
                    var o = MatVec(w.O, att, Dim);
                    for (var i = 0; i < Dim; i++) x[i] += o[i];
                }
                if (steps[s].FeedForward)
                {
                    var xn = Norm(x, w.FfnNorm);
                    var g = MatVec(w.Gate, xn, Hidden);
                    var u = MatVec(w.Up, xn, Hidden);
                    var hmid = g.Select((gv, i) => gv / (1 + Math.Exp(-gv)) * u[i]).ToArray();
                    var d = MatVec(w.Down, hmid, Dim);
                    for (var i = 0; i < Dim; i++) x[i] += d[i];
                }
                states[p][s + 1] = (double[])x.Clone();
            }
            logits[p] = MatVec(Output, Norm(x, OutputNorm), Vocab);
        }
        return (states, logits);
    }

    /// <summary>Σ over windows of −log softmax(logits)[next token].</summary>
    public (double Nll, long Predictions) Nll(IReadOnlyList<Step> steps, IEnumerable<int[]> windows)
    {
        double nll = 0;
        long count = 0;
        foreach (var w in windows)
        {
            var (_, logits) = Run(steps, w);
            for (var j = 0; j + 1 < w.Length; j++)
            {
                var max = logits[j].Max();
                nll += max + Math.Log(logits[j].Sum(v => Math.Exp(v - max))) - logits[j][w[j + 1]];
                count++;
            }
        }
        return (nll, count);
    }

    private double[] Norm(double[] x, double[] w)
    {
        var scale = 1 / Math.Sqrt(x.Sum(v => v * v) / x.Length + Eps);
        return x.Select((v, i) => v * scale * w[i]).ToArray();
    }

    private static double[] MatVec(double[] m, double[] x, int rows)
    {
        var y = new double[rows];
        for (var r = 0; r < rows; r++)
        {
            double s = 0;
            for (var c = 0; c < x.Length; c++) s += m[r * x.Length + c] * x[c];
            y[r] = s;
        }
        return y;
    }

    private void Rope(double[] v, int pos)
    {
        for (var h = 0; h < v.Length / HeadDim; h++)
            for (var i = 0; i < HeadDim / 2; i++)
            {
                var angle = pos * Math.Pow(Theta, -2.0 * i / HeadDim);
                var (a, b) = (v[h * HeadDim + 2 * i], v[h * HeadDim + 2 * i + 1]);
                v[h * HeadDim + 2 * i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                v[h * HeadDim + 2 * i + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
    }
}
