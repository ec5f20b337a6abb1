using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Testing;

namespace SpecializedInfer.Generator.Tests;

/// <summary>The session contract (tests/Shared/SessionContract.cs) over generated engines.</summary>
public sealed class GeneratedSessionContractTests : SessionContract
{
    protected override ILanguageModel LoadFull() => S260Full.Load(Stories260K);

    protected override ILanguageModel LoadWithExit() => S260Fast.Load(Stories260K);
}
