using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using Microsoft.Extensions.AI;
using SemanticSearch;
using SpecializedInfer;

// usage: SemanticSearch QUERY [QUERY ...] [--folder DIR] [--top 5]
var queries = new Argument<string[]>("query") { Description = "What to search for; several queries are answered one after another.", Arity = ArgumentArity.OneOrMore };
var folder = new Option<string>("--folder")
{
    Description = "A folder of *.txt files, one passage per line (default: the project's evaluation corpus).",
    DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "corpus"),
};
var top = new Option<int>("--top") { Description = "How many hits to print per query.", DefaultValueFactory = _ => 5 };
var root = new RootCommand("Semantic search over a folder of text with all-MiniLM-L6-v2 (SpecializedInfer's generated encoder).") { queries, folder, top };
root.SetAction(args => Search(args.GetRequiredValue(queries), args.GetRequiredValue(folder), args.GetValue(top)));
return root.Parse(args).Invoke();

static int Search(string[] queries, string folder, int top)
{
    Console.OutputEncoding = new UTF8Encoding(false);
    try
    {
        if (top < 1) throw new ArgumentException("--top must be at least 1.");
        var passages = Passage.ReadFolder(folder);
        var model = MiniLmModel.Ensure(Console.Error);
        // Any Microsoft.Extensions.AI embedding generator would do here; this one is the encoder generated for the plan
        // (MiniLm below), on the machine's physical cores.
        using var encoder = MiniLm.Load(model);
        IEmbeddingGenerator<string, Embedding<float>> generator = encoder;

        var clock = Stopwatch.StartNew();
        var index = generator.GenerateAsync(passages.Select(p => p.Text)).GetAwaiter().GetResult();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"indexed {passages.Count:N0} passages from {passages.Select(p => p.File).Distinct().Count()} file(s) in {folder} in {clock.Elapsed.TotalSeconds:F1} s (generated encoder {nameof(MiniLm)}, {encoder.Threads} threads)"));

        foreach (var (query, vector) in queries.Zip(generator.GenerateAsync(queries).GetAwaiter().GetResult()))
        {
            Console.WriteLine($"query: {query}");
            // The embeddings are L2-normalized: the dot product is the cosine.
            var hits = index.Select((e, i) => (Score: TensorPrimitives.Dot(vector.Vector.Span, e.Vector.Span), Passage: passages[i]))
                .OrderByDescending(h => h.Score).Take(top);
            foreach (var (score, p) in hits)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {score:F3}  {p.File}:{p.Line}  {p.Text}"));
        }
        return 0;
    }
    catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
}

/// <summary>all-MiniLM-L6-v2's encoder, generated at build time for the plan (every layer, no exits).</summary>
[SpecializedEngine("models/all-MiniLM-L6-v2.full.plan.json")]
public partial class MiniLm;
