using SpecializedInfer.Chat;
using SpecializedInfer.Gguf;
using SpecializedInfer.Tests.Tokenization;

namespace SpecializedInfer.Tests.Chat;

/// <summary>Chat templates against llama.cpp's <c>llama_chat_apply_template</c> on the same messages.</summary>
public sealed class ChatTemplateTests
{
    private static readonly ChatTurn[][] Conversations =
    [
        [new("user", "Hello")],
        [new("system", "You are a helpful assistant."), new("user", "What is 2+2?")],
        [new("system", " Be brief. "), new("user", "Hi there"), new("assistant", " Hello! "), new("user", "How are you?")],
        [new("user", "  spaced  \n"), new("assistant", "ok"), new("user", "call it"), new("tool", "{\"result\": 1}"), new("assistant", "\tdone\t")],
        [new("system", "Réponds en français 😀"), new("user", "日本語\n\nnew lines\t and tabs"), new("assistant", "D'accord !\n"), new("user", "Merci")],
        [new("user", "")],
        [new("system", "first"), new("system", "second"), new("user", "question"), new("assistant", "answer")],
        [new("assistant", "I start."), new("user", "ok")],
        [],
    ];

    /// <summary>Realistic Jinja templates of the common families, and each family by its built-in name.</summary>
    public static readonly (string Label, string Template, ChatTemplateFamily Family)[] Templates =
    [
        ("Llama 3", "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}", ChatTemplateFamily.Llama3),
        ("Qwen2.5 (ChatML)", "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}", ChatTemplateFamily.ChatMl),
        ("SmolLM2 (ChatML)", "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}", ChatTemplateFamily.ChatMl),
        ("Zephyr", "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '<|endoftext|>' }}{% else %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|endoftext|>' }}{% endif %}{% endfor %}", ChatTemplateFamily.Zephyr),
        ("TinyLlama (GLM-Edge by llama.cpp's markers)", "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}", ChatTemplateFamily.GlmEdge),
        ("Llama 2", "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}", ChatTemplateFamily.Llama2SysStrip),
        ("Llama 2 with <<SYS>>", "{% for message in messages %}{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}", ChatTemplateFamily.Llama2Sys),
        ("Llama 2 with BOS in history", "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}", ChatTemplateFamily.Llama2SysBos),
        ("Mistral Instruct (Llama 2 layout)", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}", ChatTemplateFamily.Llama2),
        ("Mistral v1", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{% if loop.first and system_message is defined %}{{ ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}{% else %}{{ ' [INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endif %}{% endfor %}", ChatTemplateFamily.MistralV1),
        ("Mistral v3", "{%- if tools is not none %}{{- '[AVAILABLE_TOOLS] [' }}{%- endif %}{%- for message in messages %}{%- if message['role'] == 'user' %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}{%- endfor %}", ChatTemplateFamily.MistralV3),
        ("Mistral v3 Tekken", "{%- if tools %}{{- '[AVAILABLE_TOOLS]' }}{%- endif %}{%- for message in messages %}{%- if message['role'] == 'user' %}{{- \"[INST]\" + message['content'] + \"[/INST]\" }}{%- endif %}{%- endfor %}", ChatTemplateFamily.MistralV3Tekken),
        ("Mistral v7", "{{- bos_token }}{%- for message in messages %}{%- if message['role'] == 'system' %}{{- '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{%- elif message['role'] == 'user' %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}{%- endfor %}", ChatTemplateFamily.MistralV7),
        ("Phi-3", "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}", ChatTemplateFamily.Phi3),
        ("Phi-4", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}", ChatTemplateFamily.Phi4),
        ("Falcon 3", "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ '</s>' }}{% endif %}{{ '<|user|>' }}", ChatTemplateFamily.Falcon3),
        ("Gemma", "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}", ChatTemplateFamily.Gemma),
        ("SmolVLM", "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}: {{ message['content'] }}<end_of_utterance>\n{% endfor %}", ChatTemplateFamily.SmolVlm),
        ("Command R", "{{ bos_token }}{% for message in messages %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + message['content'] | trim + '<|END_OF_TURN_TOKEN|>' }}{% endfor %}", ChatTemplateFamily.CommandR),
        ("DeepSeek V3", "{% for message in messages %}{% if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}{% else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{% endif %}{% endfor %}", ChatTemplateFamily.DeepSeek3),
        ("DeepSeek Coder", "{% for message in messages %}{% if message['role'] == 'user' %}{{'### Instruction:\\n' + message['content'] + '\\n'}}{% else %}{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}{% endif %}{% endfor %}", ChatTemplateFamily.DeepSeek),
        ("Vicuna", "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' + message['content'] + '\\n' }}{% else %}{{ 'ASSISTANT: ' + message['content'] }}{% endif %}{% endfor %}", ChatTemplateFamily.Vicuna),
        ("Llama 4", "{{- bos_token }}{%- for message in messages %}{{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' + message['content'] | trim + '<|eot|>' }}{%- endfor %}", ChatTemplateFamily.Llama4),
        .. Enum.GetValues<ChatTemplateFamily>().Select(f => ($"by name {ChatTemplateNameOf(f)}", ChatTemplateNameOf(f), f)),
    ];

    private static string ChatTemplateNameOf(ChatTemplateFamily family) => family switch
    {
        ChatTemplateFamily.ChatMl => "chatml", ChatTemplateFamily.Llama2 => "llama2", ChatTemplateFamily.Llama2Sys => "llama2-sys",
        ChatTemplateFamily.Llama2SysBos => "llama2-sys-bos", ChatTemplateFamily.Llama2SysStrip => "llama2-sys-strip",
        ChatTemplateFamily.MistralV1 => "mistral-v1", ChatTemplateFamily.MistralV3 => "mistral-v3", ChatTemplateFamily.MistralV3Tekken => "mistral-v3-tekken",
        ChatTemplateFamily.MistralV7 => "mistral-v7", ChatTemplateFamily.MistralV7Tekken => "mistral-v7-tekken", ChatTemplateFamily.Phi3 => "phi3",
        ChatTemplateFamily.Phi4 => "phi4", ChatTemplateFamily.Falcon3 => "falcon3", ChatTemplateFamily.Zephyr => "zephyr", ChatTemplateFamily.Monarch => "monarch",
        ChatTemplateFamily.Gemma => "gemma", ChatTemplateFamily.Orion => "orion", ChatTemplateFamily.OpenChat => "openchat", ChatTemplateFamily.Vicuna => "vicuna",
        ChatTemplateFamily.VicunaOrca => "vicuna-orca", ChatTemplateFamily.DeepSeek => "deepseek", ChatTemplateFamily.DeepSeek2 => "deepseek2",
        ChatTemplateFamily.DeepSeek3 => "deepseek3", ChatTemplateFamily.CommandR => "command-r", ChatTemplateFamily.Llama3 => "llama3",
        ChatTemplateFamily.ChatGlm3 => "chatglm3", ChatTemplateFamily.ChatGlm4 => "chatglm4", ChatTemplateFamily.GlmEdge => "glmedge",
        ChatTemplateFamily.MiniCpm => "minicpm", ChatTemplateFamily.Exaone3 => "exaone3", ChatTemplateFamily.Exaone4 => "exaone4",
        ChatTemplateFamily.RwkvWorld => "rwkv-world", ChatTemplateFamily.GigaChat => "gigachat", ChatTemplateFamily.Megrez => "megrez",
        ChatTemplateFamily.Yandex => "yandex", ChatTemplateFamily.Bailing => "bailing", ChatTemplateFamily.Llama4 => "llama4",
        ChatTemplateFamily.SmolVlm => "smolvlm",
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    public static IEnumerable<object[]> TemplateCases() => Enumerable.Range(0, Templates.Length).Select(i => new object[] { i, Templates[i].Label });

    [Theory]
    [MemberData(nameof(TemplateCases))]
    public void Apply_matches_llama_cpp(int index, string label)
    {
        var (_, text, family) = Templates[index];
        var template = ChatTemplate.Detect(text);
        Assert.Equal(family, template.Family);
        foreach (var conversation in Conversations)
        {
            foreach (var addAssistant in new[] { true, false })
            {
                var expected = LlamaCppOracle.ApplyChatTemplate(text, conversation.Select(m => (m.Role, m.Content)).ToArray(), addAssistant);
                var actual = template.Apply(conversation, addAssistant);
                Assert.True(expected == actual,
                    $"{label}, {conversation.Length} messages, addAssistant={addAssistant}:\n expected \"{LlamaTokenizerTests.Escape(expected ?? "(refused)")}\"\n actual   \"{LlamaTokenizerTests.Escape(actual)}\"");
            }
        }
    }

    [Fact]
    public void Every_family_has_its_llama_cpp_name()
    {
        foreach (var family in Enum.GetValues<ChatTemplateFamily>())
            Assert.Equal(ChatTemplateNameOf(family), ChatTemplate.Detect(ChatTemplateNameOf(family)).Name);
        Assert.Subset(LlamaCppOracle.BuiltInChatTemplates().ToHashSet(), ChatTemplate.FamilyNames.ToHashSet());
    }

    [Theory]
    [InlineData("gpt-oss", "{{- '<|start|>system<|message|>' }}{%- for message in messages %}{{- '<|start|>' + message.role + '<|channel|>final<|message|>' }}{%- endfor %}")]
    [InlineData("seed_oss", "{{ '<seed:bos>' + message.role }}")]
    [InlineData("granite", "{%- for message in messages %}{{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' }}{%- endfor %}")]
    [InlineData("kimi-k2", "{{ '<|im_assistant|>assistant<|im_middle|>' }}")]
    public void A_family_llama_cpp_formats_but_this_library_does_not_is_refused_by_name(string family, string template)
    {
        var e = Assert.Throws<UnsupportedChatTemplateException>(() => ChatTemplate.Detect(template));
        Assert.Contains($"\"{family}\"", e.Message);
        Assert.NotNull(LlamaCppOracle.ApplyChatTemplate(template, [("user", "hi")], true)); // llama.cpp recognises it
    }

    [Fact]
    public void A_template_llama_cpp_does_not_recognise_is_refused_as_llama_cpp_refuses_it()
    {
        const string Template = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";
        Assert.Null(LlamaCppOracle.ApplyChatTemplate(Template, [("user", "hi")], true));
        var e = Assert.Throws<UnsupportedChatTemplateException>(() => ChatTemplate.Detect(Template));
        Assert.Contains("{% for m in messages %}", e.Message);
        Assert.Contains("chatml", e.Message);
    }

    [Fact]
    public void No_template_is_chatml_as_llama_cpp_applies_a_null_template()
    {
        ChatTurn[] conversation = [new("system", "s"), new("user", "u")];
        Assert.Equal(LlamaCppOracle.ApplyChatTemplate(null, [("system", "s"), ("user", "u")], true), ChatTemplate.Detect(null).Apply(conversation, true));
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.Detect(null));
    }

    [Fact]
    public void FromGguf_reads_the_template_key_and_defaults_to_chatml()
    {
        var dir = Path.Combine(Path.GetTempPath(), "si-chat-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var with = Path.Combine(dir, "with.gguf");
            new GgufWriter().Add("general.architecture", "llama").Add(ChatTemplate.MetadataKey, Templates[0].Template).Write(with);
            var without = Path.Combine(dir, "without.gguf");
            new GgufWriter().Add("general.architecture", "llama").Write(without);
            var wrong = Path.Combine(dir, "wrong.gguf");
            new GgufWriter().Add("general.architecture", "llama").Add(ChatTemplate.MetadataKey, 3u).Write(wrong);
            using (var file = GgufFile.Open(with)) Assert.Equal(ChatTemplateFamily.Llama3, ChatTemplate.FromGguf(file).Family);
            using (var file = GgufFile.Open(without)) Assert.Equal(ChatTemplateFamily.ChatMl, ChatTemplate.FromGguf(file).Family);
            using (var file = GgufFile.Open(wrong))
            {
                var e = Assert.Throws<GgufFormatException>(() => ChatTemplate.FromGguf(file));
                Assert.Equal(file.Find(ChatTemplate.MetadataKey)!.Offset, e.Offset);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
