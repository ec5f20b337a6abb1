using SpecializedInfer.Generators.Model;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The placeholder of an encoder whose plan has an error: the public surface <see cref="EncoderEmitter"/> gives a valid
/// encoder (its constants when the manifest is valid, <c>Manifest</c>, <c>CompiledSchedule</c>, <c>PlanFile</c>,
/// <c>Load(path, threads, batchSize)</c>, <c>ISentenceEncoder</c> and Microsoft.Extensions.AI's embedding generator),
/// every member throwing with the SI diagnostic, so code written against the valid encoder keeps compiling.
/// </summary>
public sealed partial class UnavailableEngineEmitter
{
    /// <summary>
    /// The message lives in a nested class named as a valid encoder's own nested <c>Kernels</c>: a name the user's part
    /// of the class cannot hold while the plan is valid, so the placeholder takes none of theirs.
    /// </summary>
    private const string ThrowInEncoder = $"throw new {InvalidOperationException}(Kernels.Unavailable)";

    private void WriteEncoderClass(UnavailableEncoder encoder)
    {
        var cls = _engine.ClassIdentifier;
        _s.Line("/// <summary>");
        _s.Line($"/// Not generated: {Literals.Xml(_engine.DiagnosticId)}: {Literals.Xml(_engine.DiagnosticMessage)}. Every member throws <see cref=\"{InvalidOperationException}\"/>.");
        _s.Line("/// </summary>");
        _s.Line(EngineEmitter.GeneratedCodeAttribute);
        using (_s.Block($"partial class {cls} : {Encoders}.ISentenceEncoder, {TextEmbeddingGenerator}"))
        {
            WriteEncoderConstants(encoder);
            WriteEncoderStaticMembers(cls);
            WriteEncoderMembers();
            WriteEmbeddingGeneratorMembers();
            _s.Line("/// <summary>Why the encoder was not generated: the SI diagnostic the build reports.</summary>");
            using (_s.Block("private static class Kernels"))
                _s.Line($"internal const string Unavailable = {Literals.String(Message(_engine))};");
        }
    }

    /// <summary>The sizes a valid encoder declares as constants, when the manifest that gives them is valid.</summary>
    private void WriteEncoderConstants(UnavailableEncoder encoder)
    {
        if (!encoder.SizesKnown)
        {
            _s.Line("// The manifest has an error too: its sizes (Dim, HiddenDim, Heads, HeadDim) are not declared until it is fixed.");
            _s.Line();
            return;
        }
        _s.Line("/// <summary>The width of a token state and of an embedding (from the manifest, which is valid).</summary>");
        _s.Line($"public const int Dim = {Literals.Int(encoder.Dim)};");
        _s.Line("/// <summary>The feed-forward width.</summary>");
        _s.Line($"public const int HiddenDim = {Literals.Int(encoder.HiddenDim)};");
        _s.Line("/// <summary>Attention heads, and the width of each.</summary>");
        _s.Line($"public const int Heads = {Literals.Int(encoder.Heads)}, HeadDim = {Literals.Int(encoder.HeadDim)};");
        _s.Line();
    }

    /// <summary>Manifest, CompiledSchedule, PlanFile (the attribute's, which is known), the constructor and Load.</summary>
    private void WriteEncoderStaticMembers(string cls)
    {
        WritePlanMembers(ThrowInEncoder);
        _s.Line($"private {cls}({Encoders}.BertWeights weights, int threads, int batchSize, string modelId) => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public static {cls} Load(string modelPath, int threads = 0, int batchSize = {Encoders}.BertEmbeddingGenerator.DefaultBatchSize) => {ThrowInEncoder};");
        _s.Line();
    }

    /// <summary>Threads, Schedule, ISentenceEncoder's members and AsEmbeddingGenerator.</summary>
    private void WriteEncoderMembers()
    {
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public int Threads => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public {Planning}.ExecutionSchedule Schedule => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public global::SpecializedInfer.Tokenization.BertTokenizer Tokenizer => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public int Dimensions => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public {Encoders}.BertEmbeddingGenerator AsEmbeddingGenerator() => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line("public float[][] EmbedTokens(global::System.Collections.Generic.IReadOnlyList<int[]> sentences, global::System.Span<int> stepsRun, " +
                $"global::System.Threading.CancellationToken cancellation = default) => {ThrowInEncoder};");
        _s.Line();
    }

    /// <summary>Microsoft.Extensions.AI's members: Metadata, GenerateAsync, GetService; Dispose releases nothing.</summary>
    private void WriteEmbeddingGeneratorMembers()
    {
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public {AI}.EmbeddingGeneratorMetadata Metadata => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public global::System.Threading.Tasks.Task<{AI}.GeneratedEmbeddings<{AI}.Embedding<float>>> GenerateAsync(global::System.Collections.Generic.IEnumerable<string> values,");
        _s.Line($"    {AI}.EmbeddingGenerationOptions? options = null, global::System.Threading.CancellationToken cancellationToken = default) => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Throws: the encoder was not generated.</summary>");
        _s.Line($"public object? GetService(global::System.Type serviceType, object? serviceKey = null) => {ThrowInEncoder};");
        _s.Line();
        _s.Line("/// <summary>Nothing to release: no encoder exists.</summary>");
        _s.Line("public void Dispose() { }");
        _s.Line();
    }
}
