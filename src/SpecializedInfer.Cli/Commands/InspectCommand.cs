using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si inspect M.gguf</c>: the header, every metadata entry and the tensor table, read from the header alone.
/// <c>--check-values</c> also scans every tensor for NaN and infinite values: that reads the whole file (seconds for
/// a multi-gigabyte model), so it is asked for rather than paid on every look at a header.
/// </summary>
public sealed class InspectCommand : Command
{
    private readonly CliContext _context;
    private readonly Argument<string> _model = CliOptions.File("MODEL.gguf", "The GGUF file to read.");
    private readonly Option<bool> _checkValues = CliOptions.Flag("--check-values", "Also scan every tensor for NaN and infinite values (reads the whole file).");

    public InspectCommand(CliContext context) : base("inspect", "Print a GGUF file's metadata and tensor table.")
    {
        _context = context;
        Arguments.Add(_model);
        Options.Add(_checkValues);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        using var file = GgufFile.Open(args.GetRequiredValue(_model));
        var o = _context.Out;
        o.WriteLine($"{file.FilePath}: GGUF v{file.Version}, {file.FileLength:N0} bytes, alignment {file.Alignment}, {file.Metadata.Count} metadata entries, {file.Tensors.Count} tensors, data at {file.DataOffset}");

        var meta = new Table().Title("metadata").AddColumn("key").AddColumn("type").AddColumn("value");
        foreach (var (key, value) in file.Metadata)
        {
            var type = value.Type == GgufValueType.Array ? $"{value.ElementType}[{((Array)value.Value).Length}]" : value.Type.ToString();
            meta.AddRow(new Text(key), new Text(type), new Text(Preview(value)));
        }
        o.Write(meta);

        var tensors = new Table().Title("tensors").AddColumn("name").AddColumn("type").AddColumn("shape")
            .AddColumn(new TableColumn("offset").RightAligned()).AddColumn(new TableColumn("bytes").RightAligned());
        long total = 0;
        foreach (var t in file.Tensors)
        {
            tensors.AddRow(new Text(t.Name), new Text(t.Type.ToString()), new Text(t.Shape),
                new Text(t.DataOffset.ToString(CultureInfo.InvariantCulture)), new Text(t.ByteSize.ToString("N0", CultureInfo.InvariantCulture)));
            total += t.ElementCount;
        }
        o.Write(tensors);
        o.WriteLine($"{total:N0} parameters");
        if (args.GetValue(_checkValues))
        {
            var bad = file.FindNonFiniteValues();
            foreach (var tensor in bad) o.WriteLine($"warning: {tensor}");
            if (bad.Count == 0) o.WriteLine("every tensor value is finite");
        }
        return ExitCodes.Success;
    }

    private static string Preview(GgufValue value)
    {
        const int max = 6;
        if (value.Value is Array a)
        {
            var items = a.Cast<object>().Take(max).Select(x => x is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : Quote(x.ToString() ?? ""));
            return "[" + string.Join(", ", items) + (a.Length > max ? ", …" : "") + "]";
        }
        return value.Value is string s ? Quote(s) : value.ToString();
    }

    private static string Quote(string s) => "\"" + (s.Length > 60 ? s[..60] + "…" : s).Replace("\n", "\\n") + "\"";
}
