using SpecializedInfer;

namespace SpecializedInfer.Generator.Tests.EncoderEngines;

// One generated encoder per plan under EncoderPlans/ (architecture: bert manifests), checked against the reference
// encoder and ONNX Runtime in GeneratedEncoderTests.

[SpecializedEngine("EncoderPlans/minilm.full.plan.json")] public partial class MiniLmFull;
[SpecializedEngine("EncoderPlans/minilm.exit.plan.json")] public partial class MiniLmExit;
[SpecializedEngine("EncoderPlans/minilm.depth3.plan.json")] public partial class MiniLmDepth3;
