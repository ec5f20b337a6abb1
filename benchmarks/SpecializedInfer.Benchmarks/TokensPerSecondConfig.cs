using BenchmarkDotNet.Reports;

namespace SpecializedInfer.Benchmarks;

/// <summary>Adds a tokens/s column (1 / mean time per token) beside BenchmarkDotNet's time and ratio columns.</summary>
public sealed class TokensPerSecondConfig : RateColumnConfig
{
    public TokensPerSecondConfig()
        : base("TokensPerSecond", "tokens/s", "Tokens evaluated per second at batch 1 (1 / mean time per token)", perNanosecond: 1e9, "N1") =>
        SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(40); // plan names, not "learn(...)steps"
}
