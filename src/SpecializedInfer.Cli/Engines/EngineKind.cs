namespace SpecializedInfer.Cli.Engines;

/// <summary>Which executor runs a plan: the generic reference engine, or the plan's generated engine compiled in-process.</summary>
public enum EngineKind
{
    /// <summary>The reference engine: starts at once, runs any plan, the oracle every generated engine is checked against.</summary>
    Reference,

    /// <summary>The engine the source generator emits for the plan, compiled in-process and cached on disk.</summary>
    Generated,
}

internal static class EngineKinds
{
    public static readonly string[] Names = ["reference", "generated"];

    public static EngineKind Parse(string? name) => name switch
    {
        null or "reference" => EngineKind.Reference,
        "generated" => EngineKind.Generated,
        _ => throw new UsageException($"--engine takes {CliOptions.Words(Names)}, got '{name}'."),
    };
}
