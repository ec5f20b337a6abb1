using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SpecializedInfer.Benchmarks;

/// <summary>Adds a tokens/s column (1 / mean time per token) beside BenchmarkDotNet's time and ratio columns.</summary>
public sealed class TokensPerSecondConfig : ManualConfig
{
    public TokensPerSecondConfig()
    {
        AddColumn(new TokensPerSecondColumn());
        HideColumns(Column.Error, Column.StdDev, Column.RatioSD);
        SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(40); // plan names, not "learn(...)steps"
    }

    private sealed class TokensPerSecondColumn : IColumn
    {
        public string Id => "TokensPerSecond";
        public string ColumnName => "tokens/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Tokens evaluated per second at batch 1 (1 / mean time per token)";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats) return "NA";
            return (1e9 / stats.Mean).ToString("N1", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
