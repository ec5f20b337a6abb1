using System.Diagnostics;
using System.Runtime.Intrinsics;
using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Support;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The kernels' Vector256, Vector128 and scalar paths, which an AVX-512 machine never takes in-process, and the
/// integer kernels' AVX-512-without-VNNI, AVX2 and scalar paths (a machine with AVX-VNNI takes that for Q8_0):
/// child processes run this assembly's Main with hardware intrinsics switched off step by step and compare several
/// generated engines with the reference engine (which falls back the same way) over 64 positions each, and two
/// generated encoders with the reference encoder on 16 sentences; the GELU's and the prompt GEMM's bits must equal
/// this process's Vector512 ones.
/// </summary>
public sealed class FallbackPathTests(ITestOutputHelper output)
{
    /// <summary>Tails of every width, GQA ratios 1-4, heads of 8-64, exits, propagation, prefetching kernels, both rotary pairings.</summary>
    private static readonly string[] ChildEngines =
    [
        "S260Full", "S260Repeatshare", "S260Combo", "OddExits", "OddFull", "WideCombo", "MhaFull", "MhaDepth",
        "S260q8Full", "S260q4Full", "Q4synLossless", // integer kernels: Q8_0, Q4_0 with a Q8_0 head, Q4_0 partial tiles and batched heads
        "QwenExits", "Qwenq8Exits", // qwen2: half-split rotary pairs (a vector and scalar tails), projection biases
        "K4synFull", // a Q6_K head
    ];

    /// <summary>The child: prints which vector paths are accelerated, then each engine's worst logit difference.</summary>
    public static int RunChild(string[] args)
    {
        Console.WriteLine($"paths V512={Vector512.IsHardwareAccelerated} V256={Vector256.IsHardwareAccelerated} V128={Vector128.IsHardwareAccelerated}");
        Console.WriteLine($"integer VNNI={System.Runtime.Intrinsics.X86.AvxVnni.IsSupported} AVX2={System.Runtime.Intrinsics.X86.Avx2.IsSupported} GFNI={System.Runtime.Intrinsics.X86.Gfni.V512.IsSupported}");
        var ok = true;
        foreach (var name in ChildEngines)
        {
            try
            {
                var type = EngineCatalog.ByName(name);
                var planPath = EngineCatalog.PlanPath(type);
                var modelPath = TestModels.PathFor(planPath);
                using var generated = EngineCatalog.Load(type, modelPath);
                using var reference = ReferenceEngine.Load(modelPath, planPath);
                var (worst, _) = Comparison.Run(generated, reference, reference.Config.VocabSize, observe: false);
                Console.WriteLine($"{name} worst {worst:E2}");
            }
            catch (Exception e)
            {
                Console.WriteLine($"{name} FAILED: {e.GetType().Name}: {e.Message}");
                ok = false;
            }
        }
        // Generated encoders: matrix products, attention and GELU on the same path, against the reference encoder.
        try
        {
            using var miniLm = new global::SpecializedInfer.Tests.Encoders.MiniLm();
            var tokens = global::SpecializedInfer.Tests.Encoders.Sentences.Varied(16, maxWords: 12, seed: 2).Select(miniLm.Encoder.Tokenizer.Encode).ToArray();
            foreach (var (name, encoder) in new (string, global::SpecializedInfer.Encoders.ISentenceEncoder)[]
                     {
                         ("MiniLmFull", EncoderEngines.MiniLmFull.Load(miniLm.GgufPath, threads: 2)),
                         ("MiniLmExit", EncoderEngines.MiniLmExit.Load(miniLm.GgufPath, threads: 2)),
                     })
            {
                using var _ = (IDisposable)encoder;
                var schedule = name == "MiniLmFull" ? EncoderEngines.MiniLmFull.CompiledSchedule : EncoderEngines.MiniLmExit.CompiledSchedule;
                var reference = new global::SpecializedInfer.Encoders.BertEncoder(miniLm.Weights, schedule);
                var worst = 0f;
                for (var start = 0; start < tokens.Length; start += 8)
                {
                    var batch = tokens[start..(start + 8)];
                    int[] steps = new int[8], referenceSteps = new int[8];
                    var ours = encoder.EmbedTokens(batch, steps);
                    var expected = reference.EmbedTokens(batch, referenceSteps);
                    if (!steps.SequenceEqual(referenceSteps)) throw new InvalidOperationException($"steps {string.Join(",", steps)}, the reference's {string.Join(",", referenceSteps)}");
                    for (var i = 0; i < 8; i++)
                        for (var d = 0; d < ours[i].Length; d++) worst = Math.Max(worst, Math.Abs(ours[i][d] - expected[i][d]));
                }
                Console.WriteLine($"{name} worst {worst:E2}");
                if (worst > 1e-5f) ok = false;
            }
        }
        catch (Exception e)
        {
            Console.WriteLine($"encoders FAILED: {e.GetType().Name}: {e.Message}");
            ok = false;
        }
        // The generated encoder's GELU: the same operations in the same order on every path, so the same bits.
        Console.WriteLine($"gelu {GeneratedGeluTests.Digest()}");
        // The prompt GEMM: one FMA chain per output on every path (Vector512, System.Numerics.Vector, software), so the same bits.
        Console.WriteLine($"prompt-gemm {PromptGemmDigest()}");
        return ok ? 0 : 1;
    }

    /// <summary>The prompt GEMM's output bits over 37 positions (3 vectors of 16, the last partly padding), 77 rows (tiles and single rows), 301 columns (3 k blocks).</summary>
    private static string PromptGemmDigest()
    {
        const int rows = 77, cols = 301, count = 37;
        var random = new Random(19);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, count * cols).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var transposed = new float[cols * PromptGemm.PaddedPositions(count)];
        PromptGemm.Transpose(x, count, cols, transposed);
        var y = new float[count * rows];
        PromptGemm.Multiply(w, cols, cols, transposed, count, y, rows, 0, rows, add: false);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(y.AsSpan())));
    }

    [Fact]
    public async Task Vector256_Vector128_and_scalar_paths_match_the_reference()
    {
        // AVX-512 without VNNI, and without GFNI: the wide kernels' shift-and-mask high nibbles (GFNI's run in-process here).
        var onlyVnniOff = new Dictionary<string, string> { ["DOTNET_EnableAVXVNNI"] = "0", ["DOTNET_EnableGFNI"] = "0" };
        var avx512Off = new Dictionary<string, string>
        {
            ["DOTNET_EnableAVX512F"] = "0",
            ["DOTNET_EnableAVX512"] = "0", // .NET 10 folded the AVX-512 switches into this one; EnableAVX512F alone no longer disables it
        };
        var vnniOff = new Dictionary<string, string>(avx512Off) { ["DOTNET_EnableAVXVNNI"] = "0" };
        var avx2Off = new Dictionary<string, string>(vnniOff) { ["DOTNET_EnableAVX2"] = "0" };
        var scalar = new Dictionary<string, string>(avx2Off) { ["DOTNET_EnableHWIntrinsic"] = "0" };
        // The integer kernels' AVX-VNNI path runs in-process where the machine has it; AVX-512 and AVX2 without VNNI
        // and their scalar path run here.
        var runs = new[]
        {
            ("AVX-512 without VNNI", onlyVnniOff, $"paths V512={Vector512.IsHardwareAccelerated} V256=True V128=True", "integer VNNI=False AVX2=True GFNI=False"), // the Vector256 run again where there is no AVX-512
            ("Vector256", vnniOff, "paths V512=False V256=True V128=True", "integer VNNI=False AVX2=True GFNI=False"),
            ("Vector128", avx2Off, "paths V512=False V256=False V128=True", "integer VNNI=False AVX2=False GFNI=False"),
            ("scalar", scalar, "paths V512=False V256=False V128=False", "integer VNNI=False AVX2=False GFNI=False"),
        }.Select(r => (r.Item1, r.Item3, r.Item4, Task: Task.Run(() => RunChildProcess(r.Item2)))).ToList();

        foreach (var (name, expectedPaths, expectedIntegerPaths, task) in runs)
        {
            var (exitCode, text) = await task;
            output.WriteLine($"--- {name}\n{text}");
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(expectedPaths, lines.FirstOrDefault());
            Assert.Equal(expectedIntegerPaths, lines.Skip(1).FirstOrDefault());
            Assert.True(exitCode == 0, $"{name} child failed:\n{text}");
            Assert.Equal(ChildEngines.Length + 2, lines.Count(l => l.Contains(" worst ", StringComparison.Ordinal))); // and the two encoders
            Assert.Equal($"gelu {GeneratedGeluTests.Digest()}", lines.LastOrDefault(l => l.StartsWith("gelu ", StringComparison.Ordinal))); // this process's Vector512 bits
            Assert.Equal($"prompt-gemm {PromptGemmDigest()}", lines.LastOrDefault(l => l.StartsWith("prompt-gemm ", StringComparison.Ordinal)));
        }
    }

    private static (int ExitCode, string Output) RunChildProcess(Dictionary<string, string> environment)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(typeof(FallbackPathTests).Assembly.Location);
        start.ArgumentList.Add("path-check");
        foreach (var (key, value) in environment) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10))) // generous: a child compiles and runs every engine on a narrower path, minutes on a loaded machine
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out\n" + stdout.Result + stderr.Result);
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
