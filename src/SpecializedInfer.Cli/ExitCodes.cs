namespace SpecializedInfer.Cli;

/// <summary>Exit codes scripts can rely on.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The command ran but failed: a bad model file, an I/O error.</summary>
    public const int Failure = 1;

    /// <summary>The command line was wrong; usage was printed.</summary>
    public const int Usage = 2;
}
