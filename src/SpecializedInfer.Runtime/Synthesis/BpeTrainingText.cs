namespace SpecializedInfer.Synthesis;

/// <summary>
/// Text written for this project to train the synthetic byte-level BPE vocabularies on (<see cref="ByteLevelBpeTraining"/>):
/// prose, dialogue with contractions, code in three languages, numbers, markup, and lines in other scripts with emoji,
/// so that the merges cover what the tokenizer tests throw at them.
/// </summary>
public static class BpeTrainingText
{
    public const string Text = """
        Once upon a time, there was a little robot named Pip. Pip lived in a small workshop at the end of a long street.
        Every morning Pip said, "I'm ready!" and every evening the old engineer said, "You're done for today, Pip."
        Pip didn't like stopping. "Can't I finish the clock?" Pip asked. "We'll see tomorrow," she'd answer, smiling.
        They'd worked together for 12 years, 7 months and 3 days. It's a long time, isn't it? I've counted: 4,472 days.
        THE END. That's what the last page said, but the story wasn't over. WE'LL BE BACK, wrote Pip in capital letters.

        A specialized inference engine turns a transformer into code for exactly one topology. The model manifest says
        which tensors exist and how large they are; the layer plan says which layers run, which are shared, and where a
        token may leave early. The generator emits one method per schedule step, with a comment naming the layer.
        The reference engine runs the same plan generically, and the tests compare both against llama.cpp.
        Quality is measured against the full model: agreement of the top token, divergence of the distributions,
        perplexity on held-out text. A plan that loses more than the budget allows is rejected before it is used.

        public sealed class Counter
        {
            private int _count;

            public int Next() => Interlocked.Increment(ref _count);

            public override string ToString() => $"Counter({_count})";
        }

        for (var i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] == eos) break;
            sum += logits[i] * 0.5f;
        }

        def tokenize(text: str) -> list[int]:
            words = re.findall(r"\w+|[^\w\s]+", text)
            return [vocab.get(w, 0) for w in words if w]

        if __name__ == "__main__":
            print(tokenize("Hello, world!"))

        {"name": "stories260K", "dim": 64, "layers": 5, "heads": 8, "vocab": 512, "rope_theta": 10000.0}
        <div class="note"><p>See <a href="docs/plans.md">the plan format</a> &amp; its rules.</p></div>
        SELECT id, name FROM models WHERE size < 1000000 ORDER BY name;
        x = (a + b) * c - d / e % f; y += 1; z <<= 2; w != v && u >= t || s <= r;

        Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 512 1024 2048 4096 65536 3.14159 2.71828 1e-5 -0.001 +7
        Dates: 2024-06-11, 1999-12-31 23:59:59; phone 555-0100; version 10.0.1; 1,000,000 and 12.5% off.

        Le café est délicieux, n'est-ce pas ? Élodie a mangé une crème brûlée à Paris.
        Der Bär läuft über die Straße; Grüße aus München! ß ä ö ü Ä Ö Ü.
        El niño comió piñata en España. ¿Dónde está la estación? ¡Qué bien!
        Это пример текста на русском языке. Привет, мир!
        Αυτό είναι ελληνικό κείμενο. Καλημέρα!
        日本語のテキストです。東京は大きな都市です。中文字符测试，你好世界。한국어 텍스트입니다.
        नमस्ते दुनिया। مرحبا بالعالم. שלום עולם. สวัสดีชาวโลก
        Emoji time 😀🎉👍🏽 and a family 👨‍👩‍👧‍👦 with flags 🇫🇷🇯🇵 — done… “quoted” ‘text’ © ® ™ € £ ¥ ° ±

        "Where are you going?" asked Tim. "To the park," said Lily. "Don't forget your hat!" Mom called.
        They're happy. We've arrived. He's late. She'll come. I'd say yes. You'd better hurry. It'll rain.
        The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.
        """;
}
