using System.Globalization;
using System.Text;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>One fuzz input: a plan and a manifest, under the file names the plan expects.</summary>
public sealed record FuzzCase(int Index, string Kind, string PlanName, string PlanText, string ManifestName, string ManifestText);

/// <summary>
/// Seeded malformed and odd inputs for the generator: the valid plans and manifests under Plans/ mutated
/// (truncated, characters dropped or inserted, numbers made huge, negative or fractional, values swapped for
/// other JSON types, deep nesting, unicode), plus random structured plans and random manifests with odd shapes
/// (tiny or prime dimensions, one layer, no rotary dims...), which must produce engines that compile.
/// </summary>
public static class FuzzCases
{
    private static readonly string[] Insertions =
        ["{", "}", "[", "]", ",", ":", "\"", "0", "-", "1e999", "null", "true", "é", "中", "😀", "\u2028", "\\", "/*", "//", "\t", "\u0000", "\uFEFF"];

    private static readonly string[] Numbers =
        ["0", "-1", "-0", "1.5", "1e308", "2147483648", "99999999999999999999", "16777217", "1E-45", "4", "5", "63", "1e3", "0.0"];

    private static readonly string[] Values =
        ["\"x\"", "[]", "{}", "null", "true", "[1, 2, 3]", "{\"a\": 1}", "\"ünïcödé 中文 😀\"", "-3", "1e400", "[[[[[[]]]]]]"];

    private static readonly string[] PlanKeys = ["manifest", "prune", "share", "order", "decodeDepth", "exits", "kvFill", "description", "$schema", "bogus",
        "skipAttention", "skipFeedForward", "merge"];

    public static List<FuzzCase> Create(int seed, int count, string plansFolder)
    {
        var rng = new Random(seed);
        var plans = Directory.GetFiles(plansFolder, "*.plan.json").Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList();
        var manifests = Directory.GetFiles(plansFolder, "*.model.json").Order(StringComparer.Ordinal)
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        var cases = new List<FuzzCase>();
        for (var i = 0; i < count; i++)
        {
            var plan = plans[rng.Next(plans.Count)];
            var manifestName = manifests.Keys.First(k => plan.Contains($"\"{k}\"", StringComparison.Ordinal));
            var manifest = manifests[manifestName];
            string kind;
            switch (rng.Next(10))
            {
                case 0: kind = "truncated plan"; plan = plan[..rng.Next(plan.Length)]; break;
                case 1: kind = "mutated plan"; plan = Mutate(rng, plan, 1 + rng.Next(4)); break;
                case 2: kind = "mutated manifest"; manifest = Mutate(rng, manifest, 1 + rng.Next(3)); break;
                case 3: kind = "truncated manifest"; manifest = manifest[..rng.Next(manifest.Length)]; break;
                case 4: kind = "deep nesting"; plan = plan.Replace("\"manifest\"", $"\"order\": {new string('[', 40 + rng.Next(80))}1{new string(']', 40 + rng.Next(80))}, \"manifest\""); break;
                case 5: kind = "random plan"; plan = RandomPlan(rng, manifestName); break;
                case 6: case 7: kind = "odd manifest"; (manifest, plan) = (RandomManifest(rng), rng.Next(2) == 0 ? plan : RandomPlan(rng, manifestName)); break;
                default: kind = "number swaps"; plan = SwapNumbers(rng, plan); manifest = rng.Next(3) == 0 ? SwapNumbers(rng, manifest) : manifest; break;
            }
            cases.Add(new FuzzCase(i, kind, "p.plan.json", plan, manifestName, manifest));
        }
        return cases;
    }

    private static string Mutate(Random rng, string text, int edits)
    {
        var sb = new StringBuilder(text);
        for (var e = 0; e < edits && sb.Length > 0; e++)
        {
            var at = rng.Next(sb.Length);
            switch (rng.Next(3))
            {
                case 0: sb.Remove(at, 1); break;
                case 1: sb.Insert(at, Insertions[rng.Next(Insertions.Length)]); break;
                default: sb[at] = "{}[],:\"0123456789abc- "[rng.Next(22)]; break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Replaces some numbers (whole tokens) with others, and some values with other JSON types.</summary>
    private static string SwapNumbers(Random rng, string text)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < text.Length;)
        {
            if (char.IsAsciiDigit(text[i]) && (i == 0 || !char.IsAsciiLetterOrDigit(text[i - 1])))
            {
                var end = i;
                while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] is '.' or 'e' or 'E' or '-')) end++;
                var roll = rng.Next(6);
                sb.Append(roll switch { 0 => Numbers[rng.Next(Numbers.Length)], 1 => Values[rng.Next(Values.Length)], _ => text[i..end] });
                i = end;
            }
            else sb.Append(text[i++]);
        }
        return sb.ToString();
    }

    private static string RandomValue(Random rng, int depth)
    {
        switch (rng.Next(depth > 3 ? 3 : 6))
        {
            case 0: return Numbers[rng.Next(Numbers.Length)];
            case 1: return rng.Next(8).ToString(CultureInfo.InvariantCulture);
            case 2: return Values[rng.Next(Values.Length)];
            case 3: return "[" + string.Join(", ", Enumerable.Range(0, rng.Next(6)).Select(_ => RandomValue(rng, depth + 1))) + "]";
            case 4:
                return "{" + string.Join(", ", Enumerable.Range(0, rng.Next(4)).Select(_ =>
                    $"\"{(rng.Next(2) == 0 ? "layer" : rng.Next(2) == 0 ? "weightsOf" : rng.Next(2) == 0 ? "afterStep" : "threshold")}\": {RandomValue(rng, depth + 1)}")) + "}";
            default: return "\"maxProbability\"";
        }
    }

    private static string RandomPlan(Random rng, string manifestName)
    {
        var props = new List<string> { $"\"manifest\": \"{manifestName}\"" };
        foreach (var key in PlanKeys.Skip(1))
            if (rng.Next(3) == 0) props.Add($"\"{key}\": {RandomValue(rng, 0)}");
        if (rng.Next(4) == 0) props.Add("\"exits\": [ { \"afterStep\": " + rng.Next(6) + ", \"criterion\": \"maxProbability\", \"threshold\": " + (rng.NextDouble() * 1.3).ToString("R", CultureInfo.InvariantCulture) + " } ]");
        else if (rng.Next(3) == 0) props.Add("\"exits\": [ " + string.Join(", ", Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => RandomExit(rng, 0))) + " ]");
        if (rng.Next(5) == 0) props.Add($"\"skip\": [ {{ \"layer\": {rng.Next(6)}, \"test\": \"{(rng.Next(3) == 0 ? "learned" : "cosine")}\", \"threshold\": {Fraction(rng)} }} ]");
        if (rng.Next(6) == 0) props.Add($"\"kvFill\": \"{(rng.Next(3) switch { 0 => "propagate", 1 => "recompute", _ => "lossless" })}\"");
        if (rng.Next(8) == 0) props.Add($"\"speculation\": {{ \"draftSteps\": {rng.Next(6)}, \"draftTokens\": {rng.Next(10)} }}");
        // Sub-layer pruning and merges, mostly well-formed: a layer or two per list, a range of two or three layers
        // (sometimes with a gap), so valid plans with them reach the emitter and the rest the checks.
        if (rng.Next(4) == 0) props.Add($"\"skipAttention\": [{string.Join(", ", Enumerable.Range(0, 1 + rng.Next(2)).Select(_ => rng.Next(6)))}]");
        if (rng.Next(4) == 0) props.Add($"\"skipFeedForward\": [{string.Join(", ", Enumerable.Range(0, 1 + rng.Next(2)).Select(_ => rng.Next(6)))}]");
        if (rng.Next(5) == 0)
        {
            var first = rng.Next(5);
            var layers = Enumerable.Range(first, 2 + rng.Next(2)).Select(l => rng.Next(8) == 0 ? l + 1 : l);
            props.Add($"\"merge\": [ {{ \"layers\": [{string.Join(", ", layers)}] }} ]");
        }
        props = props.OrderBy(_ => rng.Next()).ToList();
        return "{ " + string.Join(", ", props) + " }";
    }

    private static string Fraction(Random rng) => (rng.NextDouble() * 1.4 - 0.2).ToString("R", CultureInfo.InvariantCulture);

    /// <summary>An exit with any criterion the schema knows (or one it does not), sometimes with fields of another criterion.</summary>
    private static string RandomExit(Random rng, int depth)
    {
        string[] criteria = ["maxProbability", "margin", "entropy", "stateSaturation", "patience", "ensemble", "learned", "bogus"];
        var criterion = criteria[rng.Next(depth > 0 ? criteria.Length - 2 : criteria.Length)];
        var fields = new List<string> { $"\"criterion\": \"{criterion}\"" };
        if (depth == 0) fields.Add($"\"afterStep\": {rng.Next(6)}");
        switch (criterion)
        {
            case "patience": fields.Add($"\"patience\": {rng.Next(5)}"); break;
            case "ensemble":
                fields.Add($"\"votes\": {rng.Next(4)}");
                fields.Add("\"members\": [ " + string.Join(", ", Enumerable.Range(0, rng.Next(4)).Select(_ => RandomExit(rng, depth + 1))) + " ]");
                break;
            case "learned": fields.Add($"\"threshold\": {Fraction(rng)}"); fields.Add("\"probe\": \"x.probe.json\""); break;
            default: fields.Add($"\"threshold\": {Fraction(rng)}"); break;
        }
        if (rng.Next(8) == 0) fields.Add("\"head\": { \"norm\": \"n\", \"output\": \"o\" }");
        if (rng.Next(10) == 0) fields.Add($"\"patience\": {rng.Next(3)}");
        return "{ " + string.Join(", ", fields.OrderBy(_ => rng.Next())) + " }";
    }

    /// <summary>A manifest of a small odd shape, usually valid: the engines these give must compile.</summary>
    private static string RandomManifest(Random rng)
    {
        int[] headChoices = [1, 2, 3, 4, 6];
        var heads = headChoices[rng.Next(headChoices.Length)];
        var kvHeads = Enumerable.Range(1, heads).Where(k => heads % k == 0).OrderBy(_ => rng.Next()).First();
        int[] headDims = [1, 2, 3, 4, 6, 8, 10, 16, 18, 24, 34, 40, 64, 66];
        var headDim = headDims[rng.Next(headDims.Length)];
        var rotary = rng.Next(3) switch { 0 => 0, 1 => headDim / 2 * 2, _ => Math.Min(2, headDim / 2 * 2) };
        var dim = heads * headDim;
        var hidden = 1 + rng.Next(300);
        var layers = 1 + rng.Next(4);
        var vocab = 1 + rng.Next(600);
        var context = 1 + rng.Next(300);
        var name = rng.Next(3) == 0 ? "\"ünï\\u2028cödé 中 😀 \\\"quoted\\\" */ \\\\ \"" : "\"odd\"";
        var extra = rng.Next(4) == 0 ? $", \"headDim\": {Numbers[rng.Next(Numbers.Length)]}" : "";
        return $$"""
            { "name": {{name}}, "architecture": "llama", "dim": {{dim}}, "hiddenDim": {{hidden}}, "layers": {{layers}},
              "heads": {{heads}}, "kvHeads": {{kvHeads}}, "headDim": {{headDim}}, "rotaryDims": {{rotary}}, "ropeTheta": {{(rng.Next(2) == 0 ? "10000" : "1e30")}},
              "normEps": {{(rng.Next(2) == 0 ? "1e-05" : "1e-300")}}, "vocabSize": {{vocab}}, "contextLength": {{context}}, "tiedOutput": {{(rng.Next(2) == 0 ? "true" : "false")}}{{extra}} }
            """;
    }
}
