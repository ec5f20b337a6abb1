using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The session's share of <c>"kvFill": "recompute"</c>: the runtime's <c>ParkedPositions</c> (the reference's own
/// algorithm, so both executors recompute the same steps in the same order) and the two members it calls back into:
/// holding the running token's state, and running one step for one parked position.
/// </summary>
public sealed class RecomputeEmitter(SourceWriter writer, ExecutionSchedule schedule)
{
    public bool Enabled => schedule.KvFill == KvFill.Recompute;

    /// <summary>The guarded catch-up before a token (or a prompt chunk) runs <paramref name="step"/>.</summary>
    public static string CatchUpCall(int step) => $"if (_parked.Count != 0) CatchUp({step});";

    /// <summary>Parking the token at <c>pos</c>, whose state is in <c>_x</c>, with <paramref name="next"/> the first step it did not run.</summary>
    public static string ParkCall(int next) => $"_parked.Park(pos, {next}, _x);";

    public void WriteFields()
    {
        writer.Line();
        writer.Line("// kvFill recompute (EE-LLM): a generated token that stopped before the last step parks its hidden state in _parked");
        writer.Line("// (the runtime's ParkedPositions, which the reference engine uses too); its missing steps run before a later token first runs them.");
        writer.Line($"private readonly {ParkedPositions} _parked;");
        writer.Line($"private readonly {ParkedPositions}.StepRunner _runParked; // RunParked, bound once");
        writer.Line("private readonly float[] _held = new float[Dim]; // the running token's state while parked positions use _x");
    }

    /// <summary>The session constructor's statements: the parked positions, and the callback bound once so catching up allocates nothing.</summary>
    public void WriteConstruction()
    {
        writer.Line($"_parked = new {ParkedPositions}(_capacity, Dim, Steps);");
        writer.Line("_runParked = RunParked;");
    }

    /// <summary>Rewind's statement.</summary>
    public void WriteRewind() => writer.Line("_parked.Rewind(position); // parked positions past the new end are gone with their tokens");

    /// <summary>The members ParkedPositions calls back into: CatchUp, then RunParked.</summary>
    public void WriteMembers()
    {
        WriteCatchUp();
        WriteRunParked();
    }

    private void WriteCatchUp()
    {
        writer.Line("/// <summary>");
        writer.Line("/// Before a token runs step <paramref name=\"step\"/>, every parked position that has not run it runs its missing steps up to it");
        writer.Line("/// (ParkedPositions.CatchUp: position by position, each through its steps in order). They run in _x, so the token's state is held.");
        writer.Line("/// </summary>");
        using (writer.Block("private void CatchUp(int step)"))
        {
            writer.Line($"new {FloatReadOnlySpan}(_x).CopyTo(_held);");
            writer.Line("Statistics.RecordRecomputed(_parked.CatchUp(step, _runParked));");
            writer.Line($"new {FloatReadOnlySpan}(_held).CopyTo(_x);");
        }
        writer.Line();
    }

    private void WriteRunParked()
    {
        writer.Line("/// <summary>Runs schedule step <paramref name=\"step\"/> for a parked position on its state. The observer is not called: like the reference,");
        writer.Line("/// it sees the steps tokens run when they are evaluated, and recomputation only fills the cache.</summary>");
        using (writer.Block($"private void RunParked(int step, int pos, {FloatSpan} state)"))
        {
            writer.Line("state.CopyTo(_x);");
            using (writer.Block("switch (step)"))
                foreach (var st in schedule.Steps.Skip(1))
                    writer.Line($"case {st.Index}: Step{st.Index}(pos); break;");
            writer.Line($"new {FloatReadOnlySpan}(_x).CopyTo(state);");
        }
        writer.Line();
    }
}
