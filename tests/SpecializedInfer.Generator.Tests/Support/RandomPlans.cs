using System.Globalization;
using System.Text;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>
/// The seeded random plans under Plans/ (<c>*.rand*.plan.json</c>): written once by this code with
/// <see cref="Seed"/> and committed; <c>RandomPlanTests</c> checks the committed files still equal its output and
/// rewrites them when SPECIALIZEDINFER_UPDATE_BASELINES=1. Every plan is valid for its manifest: no pruned layer
/// is used, no sharing chains, exits only before the last decoded step.
/// </summary>
public static class RandomPlans
{
    public const int Seed = 20261128;
    public const int Count = 8;

    private static readonly (string Prefix, string Manifest, int Layers, bool Synthetic)[] Models =
    [
        ("s260", "stories260K.model.json", 5, false),
        ("odd", "odd.model.json", 3, true),
        ("wide", "wide.model.json", 4, true),
        ("mha", "mha.model.json", 3, true),
    ];

    public static IEnumerable<(string FileName, string Json)> Create()
    {
        var rng = new Random(Seed);
        for (var i = 0; i < Count; i++)
        {
            var model = Models[i < 4 ? 0 : i % Models.Length]; // half of them on the real model
            yield return ($"{model.Prefix}.rand{i}.plan.json", Plan(rng, i, model.Manifest, model.Layers, model.Synthetic));
        }
    }

    private static string Plan(Random rng, int index, string manifest, int layers, bool synthetic)
    {
        var pruned = Enumerable.Range(0, layers).Where(_ => rng.NextDouble() < 0.2).ToList();
        if (pruned.Count == layers) pruned.RemoveAt(rng.Next(pruned.Count));
        var live = Enumerable.Range(0, layers).Except(pruned).ToList();

        var sharers = live.Where(_ => live.Count > 1 && rng.NextDouble() < 0.3).ToList();
        var owners = live.Except(sharers).ToList();
        if (owners.Count == 0) { owners.Add(sharers[0]); sharers.RemoveAt(0); }
        var shares = sharers.Select(l => (Layer: l, WeightsOf: owners[rng.Next(owners.Count)])).ToList();

        List<int>? order = null;
        if (rng.NextDouble() < 0.6)
        {
            order = [];
            var length = 1 + rng.Next(live.Count + 2);
            for (var s = 0; s < length; s++) order.Add(live[rng.Next(live.Count)]);
        }
        var steps = order?.Count ?? live.Count;
        int? depth = rng.NextDouble() < 0.5 ? 1 + rng.Next(steps) : null;
        var decoded = depth ?? steps;

        var exits = new List<(int Step, double Threshold)>();
        var candidates = Enumerable.Range(0, Math.Max(0, decoded - 1)).OrderBy(_ => rng.Next()).Take(rng.Next(3)).OrderBy(s => s);
        double[] realThresholds = [0, 0.3, 0.5, 0.8, 0.9, 0.99, 1.25];
        foreach (var s in candidates)
            exits.Add((s, synthetic ? Math.Round(0.002 + rng.NextDouble() * 0.03, 4) : realThresholds[rng.Next(realThresholds.Length)]));

        static string List(IEnumerable<int> xs) => "[" + string.Join(", ", xs) + "]";
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  // Written by Support/RandomPlans.cs (seed {Seed}, plan {index}); do not edit, regenerate.\n");
        sb.Append($"  \"manifest\": \"{manifest}\"");
        if (pruned.Count > 0) sb.Append($",\n  \"prune\": {List(pruned)}");
        if (shares.Count > 0)
            sb.Append(",\n  \"share\": [ " + string.Join(", ", shares.Select(s => $"{{ \"layer\": {s.Layer}, \"weightsOf\": {s.WeightsOf} }}")) + " ]");
        if (order is not null) sb.Append($",\n  \"order\": {List(order)}");
        if (depth is not null) sb.Append($",\n  \"decodeDepth\": {depth}");
        if (exits.Count > 0)
            sb.Append(",\n  \"exits\": [\n" + string.Join(",\n", exits.Select(e =>
                $"    {{ \"afterStep\": {e.Step}, \"criterion\": \"maxProbability\", \"threshold\": {e.Threshold.ToString("R", CultureInfo.InvariantCulture)} }}")) + "\n  ]");
        sb.Append("\n}\n");
        return sb.ToString();
    }
}
