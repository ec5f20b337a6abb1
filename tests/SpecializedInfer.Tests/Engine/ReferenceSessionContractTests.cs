using SpecializedInfer.Engine;
using SpecializedInfer.Testing;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Engine;

/// <summary>The session contract (tests/Shared/SessionContract.cs) over the reference engine.</summary>
public sealed class ReferenceSessionContractTests : SessionContract
{
    protected override ILanguageModel LoadFull() => ReferenceEngine.Load(Stories260K);

    protected override ILanguageModel LoadWithExit() =>
        ReferenceEngine.Load(Stories260K, Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.fast.plan.json"));
}
