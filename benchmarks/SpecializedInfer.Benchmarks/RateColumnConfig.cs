using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// A config adding one rate column beside BenchmarkDotNet's time and ratio columns (error and standard deviations
/// hidden): operations per unit of time, <c>perNanosecond</c> / the mean time per operation in ns (1: G operations
/// per second; 1e9: operations per second). A subclass names the rate (<see cref="RateConfig"/>, <see cref="TokensPerSecondConfig"/>).
/// </summary>
public abstract class RateColumnConfig : ManualConfig
{
    protected RateColumnConfig(string id, string columnName, string legend, double perNanosecond, string format)
    {
        AddColumn(new RateColumn(id, columnName, legend, perNanosecond, format));
        HideColumns(Column.Error, Column.StdDev, Column.RatioSD);
    }

    private sealed class RateColumn(string id, string columnName, string legend, double perNanosecond, string format) : IColumn
    {
        public string Id => id;
        public string ColumnName => columnName;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => legend;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase]?.ResultStatistics is { } stats ? (perNanosecond / stats.Mean).ToString(format, CultureInfo.InvariantCulture) : "NA";
    }
}
