using SpecializedInfer;

namespace SpecializedInfer.Benchmarks;

// The generated encoders the encoder benchmarks time, from the repository's MiniLM manifest and depth plans.
[SpecializedEngine("eval/plans/minilm.depth6.plan.json")] public partial class MiniLmFull;
[SpecializedEngine("eval/plans/minilm.depth3.plan.json")] public partial class MiniLmDepth3;
