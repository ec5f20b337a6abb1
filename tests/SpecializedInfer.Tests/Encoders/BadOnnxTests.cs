using Google.Protobuf;
using Onnx;
using SpecializedInfer.Onnx;
using SpecializedInfer.Tests.Cli;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>Broken ONNX input: every failure is an <see cref="OnnxFormatException"/> naming where and what was expected.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class BadOnnxTests(MiniLm m)
{
    private OnnxFormatException Read(Action<ModelProto> breakIt)
    {
        var model = ModelProto.Parser.ParseFrom(m.OnnxBytes);
        breakIt(model);
        return Assert.Throws<OnnxFormatException>(() => BertOnnxReader.Read("broken.onnx", model.ToByteArray()));
    }

    [Fact]
    public void Truncated_file()
    {
        var e = Assert.Throws<OnnxFormatException>(() => BertOnnxReader.Read("cut.onnx", m.OnnxBytes[..(m.OnnxBytes.Length / 2)]));
        Assert.StartsWith("cut.onnx: at the file: expected a complete ONNX model", e.Message);
    }

    [Fact]
    public void Not_an_onnx_file()
    {
        var e = Assert.Throws<OnnxFormatException>(() => BertOnnxReader.Read("vocab.onnx", m.VocabBytes));
        Assert.Contains("expected", e.Message);
        Assert.Equal("vocab.onnx", e.FilePath);
    }

    [Fact]
    public void Missing_initializer()
    {
        var e = Read(model => model.Graph.Initializer.Remove(model.Graph.Initializer.Single(t => t.Name == "encoder.layer.2.output.LayerNorm.weight")));
        Assert.Equal("initializer 'encoder.layer.2.output.LayerNorm.weight'", e.Where);
        Assert.Contains("layer 2: the output LayerNorm's scale", e.Message);
        Assert.Contains("missing initializer", e.Message);
    }

    [Fact]
    public void Unexpected_shape()
    {
        var e = Read(model =>
        {
            var t = model.Graph.Initializer.Single(t => t.Name == "encoder.layer.4.intermediate.dense.bias");
            t.Dims[0] = 1535;
        });
        Assert.Contains("layer 4: the feed-forward up bias of shape [1536], found [1535]", e.Message);
    }

    [Fact]
    public void Unexpected_activation()
    {
        var e = Read(model => model.Graph.Node.First(n => n.OpType == "Erf").OpType = "Tanh");
        Assert.Contains("layer 0: exact GELU (Div, Erf, Add, Mul) then the down projection, found Add, Div, Mul, Tanh", e.Message);
    }

    [Fact]
    public void Unexpected_attention_scale()
    {
        var e = Read(model =>
        {
            // The Div after layer 1's score MatMul divides by a Constant node (√32): make it 4.
            var softmaxes = model.Graph.Node.Where(n => n.OpType == "Softmax").ToList();
            var add = model.Graph.Node.Single(n => n.Output.Contains(softmaxes[1].Input[0]));
            var div = model.Graph.Node.Single(n => n.Output.Contains(add.Input[0]));
            var constant = model.Graph.Node.Single(n => n.Output.Contains(div.Input[1]));
            constant.Attribute[0].T.RawData = ByteString.CopyFrom(BitConverter.GetBytes(4f));
        });
        Assert.Contains("layer 1: scores divided by sqrt(head size) = 5.6569, found Div by 4", e.Message);
    }

    [Fact]
    public void Missing_input()
    {
        var e = Read(model => model.Graph.Input.Remove(model.Graph.Input.Single(i => i.Name == "token_type_ids")));
        Assert.Contains("an input named 'token_type_ids'", e.Message);
    }

    [Fact]
    public void Si_convert_reports_a_broken_file_in_one_line_and_writes_nothing()
    {
        var dir = Path.Combine(m.Directory_, "bad");
        Directory.CreateDirectory(dir);
        var onnx = Path.Combine(dir, "cut.onnx");
        var vocab = Path.Combine(dir, "vocab.txt");
        var output = Path.Combine(dir, "out.gguf");
        File.WriteAllBytes(onnx, m.OnnxBytes[..1000]);
        File.WriteAllBytes(vocab, m.VocabBytes);
        var (code, _, err) = Si.Run("convert", "--onnx", onnx, "--vocab", vocab, "--output", output);
        Assert.Equal(SpecializedInfer.Cli.ExitCodes.Failure, code);
        Assert.StartsWith($"error: {onnx}: at the file: expected a complete ONNX model", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Si_convert_from_files_and_from_the_package_assembly_write_the_same_gguf()
    {
        var dir = Path.Combine(m.Directory_, "cli");
        Directory.CreateDirectory(dir);
        var onnx = Path.Combine(dir, "model.onnx");
        var vocab = Path.Combine(dir, "vocab.txt");
        File.WriteAllBytes(onnx, m.OnnxBytes);
        File.WriteAllBytes(vocab, m.VocabBytes);
        var fromFiles = Path.Combine(dir, "minilm.gguf");
        Assert.Equal(0, Si.Run("convert", "--onnx", onnx, "--vocab", vocab, "--output", fromFiles).Code);
        var fromAssembly = Path.Combine(dir, "assembly", "minilm.gguf");
        Directory.CreateDirectory(Path.GetDirectoryName(fromAssembly)!);
        Assert.Equal(0, Si.Run("convert", "--from-assembly", MiniLm.AssemblyPath, "--output", fromAssembly).Code);
        Assert.Equal(File.ReadAllBytes(m.GgufPath), File.ReadAllBytes(fromFiles));
        Assert.Equal(File.ReadAllBytes(fromFiles), File.ReadAllBytes(fromAssembly));
    }
}
