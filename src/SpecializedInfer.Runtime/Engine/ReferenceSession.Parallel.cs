using System.Numerics.Tensors;
using SpecializedInfer.Models;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Engine;

// The reference engine's threads: a product's rows and an attention's heads split over the session's WorkerPool.
// Every output (a row's dot product for one position, a head's attention for one position) is computed whole by
// one thread with the arithmetic a single thread uses, so the logits are the same bits for any thread count.

public partial class ReferenceSession
{
    /// <summary>What the pool runs: the arguments of the current product or attention, in fields (spans cannot cross threads).</summary>
    private sealed class ParallelWork(ReferenceSession session) : IPartitionedWork
    {
        public bool Attention;
        public WeightTensor Weights;
        public float[] Input = [], Output = [];
        public int InputOffset, OutputOffset, Count;
        public float[] Keys = [], Values = [];
        public int Position;

        public void Run(int part, int parts)
        {
            if (Attention) session.AttendHeads(this, part, parts);
            else session.ProductRows(this, part, parts);
        }
    }

    /// <summary>
    /// output[j][i] = dot(row i of W, input[j]) for <paramref name="count"/> inputs of <c>W.Cols</c> values at
    /// <paramref name="inputOffset"/> in <paramref name="input"/>, rows split over the session's threads. F32 weights:
    /// a float dot product. Q8_0/Q4_0 (Q4_K/Q6_K) weights: as llama.cpp's CPU backend, each input is quantized to Q8_0
    /// (Q8_K) first (<see cref="QuantizedDot.QuantizeActivations"/>, once, on the calling thread) and each row's blocks
    /// are multiplied in integers and summed in the order <see cref="QuantizedDot"/> (<see cref="SuperBlockDot"/>) defines.
    /// </summary>
    private void MatMul(WeightTensor w, float[] input, int inputOffset, float[] output, int outputOffset, int count)
    {
        int cols = w.Cols;
        if (w.IsQuantized)
        {
            var rowBytes = QuantizedDot.ActivationBytes(w.Type, cols);
            for (var j = 0; j < count; j++)
                QuantizedDot.QuantizeActivations(w.Type, input.AsSpan(inputOffset + j * cols, cols), _quantizedInput.AsSpan(j * rowBytes, rowBytes));
        }
        var work = _parallel;
        work.Attention = false;
        work.Weights = w;
        (work.Input, work.InputOffset, work.Output, work.OutputOffset, work.Count) = (input, inputOffset, output, outputOffset, count);
        _pool.Run(work);
    }

    /// <summary>One part's rows of the current product: each row read once for all inputs, each dot the call one input alone makes.</summary>
    private void ProductRows(ParallelWork work, int part, int parts)
    {
        var w = work.Weights;
        int rows = w.Rows, cols = w.Cols, count = work.Count;
        var output = work.Output.AsSpan(work.OutputOffset, count * rows);
        int first = WorkerPool.Start(rows, part, parts), end = WorkerPool.Start(rows, part + 1, parts);
        if (!w.IsQuantized)
        {
            var input = work.Input.AsSpan(work.InputOffset, count * cols);
            for (var i = first; i < end; i++)
            {
                var row = w.Row(i);
                for (var j = 0; j < count; j++)
                    output[j * rows + i] = TensorPrimitives.Dot(row, input.Slice(j * cols, cols));
            }
            return;
        }
        var rowBytes = QuantizedDot.ActivationBytes(w.Type, cols);
        var quantized = _quantizedInput.AsSpan(0, count * rowBytes);
        if (count == 1 && QuantizedDot.UsesSuperBlocks(w.Type))
        {
            SuperBlockDot.Rows(w, quantized, output, first, end); // the same row products, four rows at a time, prefetched
            return;
        }
        for (var i = first; i < end; i++)
        {
            var row = w.QuantizedRow(i);
            for (var j = 0; j < count; j++)
                output[j * rows + i] = QuantizedDot.Row(w.Type, row, quantized.Slice(j * rowBytes, rowBytes), cols);
        }
    }

    /// <summary>Causal attention of the <paramref name="count"/> queries in <c>_q</c> (at positions <paramref name="pos"/>..) into <c>_attnOut</c>, heads split over the threads.</summary>
    private void Attend(float[] keys, float[] values, int pos, int count)
    {
        var work = _parallel;
        work.Attention = true;
        (work.Keys, work.Values, work.Position, work.Count) = (keys, values, pos, count);
        _pool.Run(work);
    }

    /// <summary>One part's heads, for every query: scores over 0..its position, softmax, the weighted sum of values (each part its own scores).</summary>
    private void AttendHeads(ParallelWork work, int part, int parts)
    {
        int kvDim = _c.KvDim, headDim = _c.HeadDim, qDim = _c.QueryDim;
        int first = WorkerPool.Start(_c.Heads, part, parts), end = WorkerPool.Start(_c.Heads, part + 1, parts);
        for (var j = 0; j < work.Count; j++)
        {
            var pos = work.Position + j;
            var scores = _scores[part].AsSpan(0, pos + 1);
            var q = Row(_q, j, qDim);
            var output = Row(_attnOut, j, qDim);
            for (var h = first; h < end; h++)
            {
                var kvOffset = h / _c.HeadsPerKvHead * headDim; // grouped-query attention: heads share a KV head
                var qh = q.Slice(h * headDim, headDim);
                for (var t = 0; t <= pos; t++)
                    scores[t] = TensorPrimitives.Dot(qh, work.Keys.AsSpan(t * kvDim + kvOffset, headDim)) * _attentionScale;
                // TensorPrimitives.SoftMax does not subtract the maximum: a score past ~88 overflows exp to ∞ (∞/∞ = NaN).
                TensorPrimitives.Subtract(scores, TensorPrimitives.Max(scores), scores);
                TensorPrimitives.SoftMax(scores, scores);
                var outHead = output.Slice(h * headDim, headDim);
                outHead.Clear();
                for (var t = 0; t <= pos; t++)
                    TensorPrimitives.MultiplyAdd(work.Values.AsSpan(t * kvDim + kvOffset, headDim), scores[t], outHead, outHead);
            }
        }
    }
}
