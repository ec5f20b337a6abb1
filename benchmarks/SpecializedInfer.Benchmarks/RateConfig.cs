using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SpecializedInfer.Benchmarks;

/// <summary>Adds a rate column (1 / mean time per operation in ns: G operations per second) for benchmarks whose operation is a byte or a flop.</summary>
public sealed class RateConfig : ManualConfig
{
    public RateConfig()
    {
        AddColumn(new RateColumn());
        HideColumns(Column.Error, Column.StdDev, Column.RatioSD);
    }

    private sealed class RateColumn : IColumn
    {
        public string Id => "Rate";
        public string ColumnName => "G/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Operations (bytes read, or flops) per nanosecond: GB/s or GFLOP/s";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats) return "NA";
            return (1 / stats.Mean).ToString("N2", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
