using System.Globalization;
using System.Text;
using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>Writes a manifest as the JSON <c>si manifest</c> produces: stable property order, invariant numbers.</summary>
public static class ManifestWriter
{
    public static string ToJson(ModelManifest m)
    {
        static string N(float f) => f.ToString("R", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  \"name\": \"{Escape(m.Name)}\",\n");
        sb.Append($"  \"architecture\": \"{Escape(m.Architecture)}\",\n");
        sb.Append($"  \"dim\": {m.Dim},\n");
        sb.Append($"  \"hiddenDim\": {m.HiddenDim},\n");
        sb.Append($"  \"layers\": {m.Layers},\n");
        sb.Append($"  \"heads\": {m.Heads},\n");
        sb.Append($"  \"kvHeads\": {m.KvHeads},\n");
        sb.Append($"  \"headDim\": {m.HeadDim},\n");
        sb.Append($"  \"rotaryDims\": {m.RotaryDims},\n");
        sb.Append($"  \"ropeTheta\": {N((float)m.RopeTheta)},\n");
        sb.Append($"  \"normEps\": {N((float)m.NormEps)},\n");
        sb.Append($"  \"vocabSize\": {m.VocabSize},\n");
        sb.Append($"  \"contextLength\": {m.ContextLength},\n");
        sb.Append($"  \"tiedOutput\": {(m.TiedOutput ? "true" : "false")}\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");
}
