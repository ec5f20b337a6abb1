using SpecializedInfer.Gguf;
using SpecializedInfer.Quantization;
using SpecializedInfer.Synthesis;
using SpecializedInfer.Tests.Support;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// <see cref="ModelQuantizer"/> writes the bytes llama.cpp's quantizer writes (<c>llama_model_quantize</c>, default
/// parameters, through LLamaSharp): tied and separate outputs, widths of 256 (output in Q6_K under Q4_0), widths
/// of 64 (Q6_K falls back to Q8_0); a feed-forward width of 172, which no 32-value block divides, both refuse.
/// </summary>
public sealed class ModelQuantizerTests : IClassFixture<QuantizedModels>
{
    private readonly QuantizedModels _models;

    public ModelQuantizerTests(QuantizedModels models) => _models = models;

    public static TheoryData<string, string> Cases => new()
    {
        { "k256", "q8_0" }, { "k256", "q4_0" }, { "s260pad", "q8_0" }, { "s260pad", "q4_0" },
        { "separate", "q8_0" }, { "separate", "q4_0" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Files_equal_llama_cpps_byte_for_byte(string model, string type)
    {
        var input = Input(model);
        var expected = Path.Combine(_models.Directory, $"{model}.{type}.llama.gguf");
        if (model == "separate") LlamaCppOracle.Quantize(input, expected, type);
        else expected = _models.Quantized(model, type);
        var actual = Path.Combine(_models.Directory, $"{model}.{type}.si.gguf");
        Assert.True(ModelQuantizer.TryParse(type, out var fileType));
        using (var file = GgufFile.Open(input)) ModelQuantizer.Quantize(file, fileType, actual);

        var a = File.ReadAllBytes(actual);
        var e = File.ReadAllBytes(expected);
        var first = a.AsSpan().CommonPrefixLength(e);
        Assert.True(first == a.Length && a.Length == e.Length,
            $"{model} {type}: {a.Length:N0} bytes vs llama.cpp's {e.Length:N0}; first difference at byte {first:N0}");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    public void Rows_no_block_divides_are_refused_as_llama_cpp_refuses_them(string type)
    {
        var input = ModelLocator.Find("stories260K.gguf");
        var theirs = Assert.Throws<InvalidOperationException>(() => LlamaCppOracle.Quantize(input, Path.Combine(_models.Directory, "refused.gguf"), type));
        Assert.Contains("no tensor type fallback", theirs.Message);
        Assert.True(ModelQuantizer.TryParse(type, out var fileType));
        using var file = GgufFile.Open(input);
        var ours = Assert.Throws<GgufFormatException>(() => ModelQuantizer.Quantize(file, fileType, Path.Combine(_models.Directory, "refused.gguf")));
        Assert.Contains("'blk.0.ffn_down.weight'", ours.Message);
        Assert.Contains("rows of 172", ours.Message);
        Assert.False(File.Exists(Path.Combine(_models.Directory, "refused.gguf")));
    }

    [Fact]
    public void The_types_are_llama_cpps_rules()
    {
        // Independent of llama.cpp's file: the rules written out for the tensors of a model with a separate output.
        using var file = GgufFile.Open(Input("separate"));
        GgmlType? Of(string name, QuantizedFileType type) => ModelQuantizer.TargetType(file.GetTensor(name), type, name == "output.weight");
        Assert.Equal(GgmlType.Q6_K, Of("output.weight", QuantizedFileType.Q4_0));
        Assert.Equal(GgmlType.Q8_0, Of("output.weight", QuantizedFileType.Q8_0));
        Assert.Equal(GgmlType.Q4_0, Of("token_embd.weight", QuantizedFileType.Q4_0));
        Assert.Equal(GgmlType.Q4_0, Of("blk.0.ffn_down.weight", QuantizedFileType.Q4_0));
        Assert.Equal(GgmlType.F32, Of("blk.0.attn_norm.weight", QuantizedFileType.Q4_0));
        Assert.Equal(GgmlType.F32, Of("output_norm.weight", QuantizedFileType.Q8_0));
    }

    [Fact]
    public void Quantized_tensors_are_refused_with_their_name()
    {
        var path = Path.Combine(_models.Directory, "q4_1-input.gguf");
        new GgufWriter().AddTensor("blk.0.attn_q.weight", [32, 2], GgmlType.Q4_1, new byte[40]).Write(path);
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<GgufFormatException>(() => ModelQuantizer.Quantize(file, QuantizedFileType.Q8_0, Path.Combine(_models.Directory, "never.gguf")));
        Assert.Contains("'blk.0.attn_q.weight'", e.Message);
        Assert.Contains("Q4_1", e.Message);
        Assert.False(File.Exists(Path.Combine(_models.Directory, "never.gguf")));
    }

    private string Input(string model)
    {
        switch (model)
        {
            case "stories260K": return ModelLocator.Find("stories260K.gguf");
            case "separate":
                var path = Path.Combine(_models.Directory, "separate.f32.gguf");
                if (!File.Exists(path)) SyntheticModel.Write(QuantizedModels.K256 with { Name = "separate", TiedOutput = false, Layers = 2, Seed = 8 }, path);
                return path;
            default: return _models.F32(model);
        }
    }
}
