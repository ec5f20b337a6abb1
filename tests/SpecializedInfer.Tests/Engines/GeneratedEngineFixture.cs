using SpecializedInfer.Cli.Engines;

namespace SpecializedInfer.Tests.Engines;

/// <summary>
/// One engine cache for every test that compiles generated engines, so each plan is compiled once per test run.
/// Those tests share a collection: they run one at a time (<see cref="GeneratedEngineCompiler.Compilations"/> counts
/// the calling thread's compilations, so tests elsewhere compiling engines at the same time do not disturb the count).
/// </summary>
public sealed class GeneratedEngineFixture : IDisposable
{
    public const string Collection = "generated engines";

    public string Cache { get; } = Directory.CreateTempSubdirectory("si-engine-cache-").FullName;

    public EngineFactory Generated => new(EngineKind.Generated, Cache);
    public EngineFactory Reference => new(EngineKind.Reference, Cache);

    public void Dispose()
    {
        try { Directory.Delete(Cache, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition(GeneratedEngineFixture.Collection)]
public sealed class GeneratedEngineCollection : ICollectionFixture<GeneratedEngineFixture>;
