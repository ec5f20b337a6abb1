namespace SpecializedInfer.Synthesis;

/// <summary>
/// Llama 3.1+'s rotary scaling (<c>rope_scaling.rope_type = "llama3"</c>) as the GGUF converter bakes it into
/// <c>rope_freqs.weight</c>: long wavelengths are slowed by <c>factor</c>, short ones kept, the band between
/// interpolated. Engines never compute this: they read the factors from the file, as llama.cpp does.
/// </summary>
public static class Llama3RopeScaling
{
    /// <summary>The factor per rotated pair (Llama 3.2's defaults: factor 32, low 1, high 4, original context 8192).</summary>
    public static float[] Factors(int rotaryDims, float theta, float factor = 32f, float lowFrequencyFactor = 1f, float highFrequencyFactor = 4f, int originalContext = 8192)
    {
        var lowWavelength = originalContext / lowFrequencyFactor;
        var highWavelength = originalContext / highFrequencyFactor;
        var factors = new float[rotaryDims / 2];
        for (var i = 0; i < factors.Length; i++)
        {
            var frequency = 1.0 / Math.Pow(theta, 2.0 * i / rotaryDims);
            var wavelength = 2 * Math.PI / frequency;
            if (wavelength < highWavelength) factors[i] = 1f;
            else if (wavelength > lowWavelength) factors[i] = factor;
            else
            {
                var smooth = (originalContext / wavelength - lowFrequencyFactor) / (highFrequencyFactor - lowFrequencyFactor);
                factors[i] = (float)(1 / ((1 - smooth) / factor + smooth));
            }
        }
        return factors;
    }
}
