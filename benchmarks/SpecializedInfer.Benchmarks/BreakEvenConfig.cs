using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// For <see cref="SpeculationCostBenchmarks"/>: on each verification row (a pass over k + 1 positions), the per-draft
/// acceptance α at which self-speculation with k drafts of a given depth breaks even with plain decoding, from the
/// same run's means at the same thread count. A cycle drafts k tokens and verifies k + 1 positions; with each draft
/// kept while all before it were (probability α each), it yields E(α) = 1 + α + … + α^k tokens, so it pays when
/// E(α) · decode > k · draft + verify(k + 1). E rises with α, so the root is found by bisection; "never" when even
/// α = 1 does not pay.
/// </summary>
public sealed class BreakEvenConfig : ManualConfig
{
    public BreakEvenConfig()
    {
        AddColumn(new BreakEvenColumn(nameof(SpeculationCostBenchmarks.Draft3), "3-layer drafts"));
        AddColumn(new BreakEvenColumn(nameof(SpeculationCostBenchmarks.Draft6), "6-layer drafts"));
        HideColumns(Column.Error, Column.StdDev, Column.RatioSD);
    }

    /// <summary>The acceptance α at which k drafts costing <paramref name="draft"/> each and a verification pass costing <paramref name="verify"/> cost what plain decoding of the tokens they yield costs; null when even α = 1 does not pay.</summary>
    public static double? BreakEven(double decode, double draft, double verify, int k)
    {
        double Tokens(double alpha) => Enumerable.Range(0, k + 1).Sum(i => Math.Pow(alpha, i));
        var cost = k * draft + verify;
        if (Tokens(1) * decode <= cost) return null;
        double lo = 0, hi = 1;
        for (var i = 0; i < 60; i++)
        {
            var mid = (lo + hi) / 2;
            if (Tokens(mid) * decode < cost) lo = mid; else hi = mid;
        }
        return hi;
    }

    private sealed class BreakEvenColumn(string draftMethod, string label) : IColumn
    {
        public string Id => "BreakEven" + draftMethod;
        public string ColumnName => $"break-even α, {label}";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 1;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => $"Per-draft acceptance at which k {label} plus this verification pass cost what decoding the tokens they yield costs";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var method = benchmarkCase.Descriptor.WorkloadMethod.Name;
            if (!method.StartsWith("Verify", StringComparison.Ordinal)) return "-";
            var k = int.Parse(method["Verify".Length..], CultureInfo.InvariantCulture) - 1;
            double? Mean(string name) => summary.BenchmarksCases
                .Where(c => c.Descriptor.WorkloadMethod.Name == name && c.Parameters.DisplayInfo == benchmarkCase.Parameters.DisplayInfo)
                .Select(c => summary[c]?.ResultStatistics?.Mean).FirstOrDefault();
            if (Mean(nameof(SpeculationCostBenchmarks.Decode)) is not { } decode || Mean(draftMethod) is not { } draft || summary[benchmarkCase]?.ResultStatistics?.Mean is not { } verify)
                return "NA";
            return BreakEven(decode, draft, verify, k) is { } alpha ? alpha.ToString("N3", CultureInfo.InvariantCulture) : "never";
        }
    }
}
