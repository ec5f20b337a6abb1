using System;
using System.Collections.Generic;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The work a session splits over its threads (<c>WorkerPool</c>): each product group (a layer's query, key and value
/// from one input; gate and up; a head) and each attention is an op, a method computing one part's rows or KV heads.
/// The call site sets the op and its position arguments in fields and runs it on every thread (spans cannot cross
/// threads; the op rebuilds them from the session's fields). Rows go to parts in whole tiles of 16, KV heads whole,
/// so every output is computed by one thread with the arithmetic one thread uses: the same bits for any count.
/// Identical ops (the head from several call sites) are written once.
/// </summary>
public sealed class ParallelOps
{
    private readonly List<(string Summary, string Body)> _ops = new();
    private readonly Dictionary<string, int> _byBody = new(StringComparer.Ordinal);

    /// <summary>The op whose body <paramref name="body"/> writes (once per distinct body); returns its number.</summary>
    public int Add(string summary, Action<SourceWriter> body)
    {
        var writer = new SourceWriter();
        body(writer);
        var text = writer.ToString().TrimEnd('\n');
        if (_byBody.TryGetValue(text, out var known)) return known;
        _ops.Add((summary, text));
        return _byBody[text] = _ops.Count - 1;
    }

    /// <summary>The statement running op <paramref name="op"/> on every thread at <paramref name="pos"/> for <paramref name="count"/> positions, with its summary.</summary>
    public string Call(int op, string pos, string count) => $"Parallel({op}, {pos}, {count}); // {Literals.Comment(_ops[op].Summary)}";

    /// <summary>An op body's part of a matrix's <paramref name="rows"/> rows, as local <paramref name="name"/> (From, To).</summary>
    public static string RowsOf(string name, int rows) => $"var {name} = Rows({rows}, part, parts);";

    /// <summary>
    /// An op body's part of the chunk's n positions, as local <paramref name="name"/> (From, To): whole groups of 16
    /// (the prompt GEMM's position group), so parts writing transposed rows never share a cache line.
    /// </summary>
    public static string PositionsOf(string name) => $"var {name} = Rows(n, part, parts);";

    /// <summary>An op body's part of the KV heads, as local <paramref name="name"/> (From, To).</summary>
    public static string KvHeadsOf(string name) => $"var {name} = KvHeadRange(part, parts);";

    /// <summary>The session's fields and members: Parallel, the IPartitionedWork dispatch, one method per op, the range helpers.</summary>
    public void WriteMembers(SourceWriter s, bool kvHeads = true)
    {
        s.Line("// Parallel work: the op every thread runs next and its arguments (ops rebuild their spans from fields).");
        s.Line("private int _op, _opPos, _opCount;");
        s.Line();
        s.Line("/// <summary>Runs op <paramref name=\"op\"/> on every thread of the session (part 0 on this one); returns when all parts are done.</summary>");
        using (s.Block("private void Parallel(int op, int pos, int count)"))
        {
            s.Line("_op = op;");
            s.Line("_opPos = pos;");
            s.Line("_opCount = count;");
            s.Line("_pool.Run(this);");
        }
        s.Line();
        s.Line("/// <summary>One thread's part of the current op.</summary>");
        using (s.Block($"void {Engine}.IPartitionedWork.Run(int part, int parts)"))
        using (s.Block("switch (_op)"))
        {
            for (var i = 0; i < _ops.Count; i++) s.Line($"case {i}: Op{i}(_opPos, _opCount, part, parts); break;");
            s.Line($"default: throw new {InvalidOperationException}($\"No parallel op {{_op}}.\");");
        }
        s.Line();
        for (var i = 0; i < _ops.Count; i++)
        {
            s.Line($"/// <summary>{Literals.Xml(_ops[i].Summary)}: this part's share.</summary>");
            using (s.Block($"private void Op{i}(int pos, int n, int part, int parts)"))
                s.Lines(_ops[i].Body);
            s.Line();
        }
        s.Line("/// <summary>Part <paramref name=\"part\"/>'s rows of a matrix of <paramref name=\"rows\"/> rows: whole tiles of 16, contiguous.</summary>");
        using (s.Block("private static (int From, int To) Rows(int rows, int part, int parts)"))
        {
            s.Line("var tiles = (rows + 15) / 16;");
            s.Line($"return ({Engine}.WorkerPool.Start(tiles, part, parts) * 16, {Math}.Min(rows, {Engine}.WorkerPool.Start(tiles, part + 1, parts) * 16));");
        }
        s.Line();
        if (!kvHeads) return;
        s.Line("/// <summary>Part <paramref name=\"part\"/>'s KV heads (with the query heads that share them), contiguous.</summary>");
        s.Line($"private static (int From, int To) KvHeadRange(int part, int parts) => ({Engine}.WorkerPool.Start(KvHeads, part, parts), {Engine}.WorkerPool.Start(KvHeads, part + 1, parts));");
        s.Line();
    }
}
