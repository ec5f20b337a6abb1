namespace SpecializedInfer.Chat;

/// <summary>
/// llama.cpp's <c>llm_chat_detect_template</c>: a built-in name is taken as it is; otherwise the Jinja template's text
/// is searched for the markers of each family, in llama.cpp's order (the first family whose markers appear wins).
/// Families llama.cpp knows but this library does not format are detected too, by their name, so that such a template
/// is refused rather than taken for a later family in the order.
/// </summary>
internal static class ChatTemplateDetection
{
    /// <summary>llama.cpp's names (LLM_CHAT_TEMPLATES) of the families formatted here.</summary>
    public static readonly IReadOnlyDictionary<string, ChatTemplateFamily> Names = new Dictionary<string, ChatTemplateFamily>(StringComparer.Ordinal)
    {
        ["chatml"] = ChatTemplateFamily.ChatMl, ["llama2"] = ChatTemplateFamily.Llama2, ["llama2-sys"] = ChatTemplateFamily.Llama2Sys,
        ["llama2-sys-bos"] = ChatTemplateFamily.Llama2SysBos, ["llama2-sys-strip"] = ChatTemplateFamily.Llama2SysStrip,
        ["mistral-v1"] = ChatTemplateFamily.MistralV1, ["mistral-v3"] = ChatTemplateFamily.MistralV3,
        ["mistral-v3-tekken"] = ChatTemplateFamily.MistralV3Tekken, ["mistral-v7"] = ChatTemplateFamily.MistralV7,
        ["mistral-v7-tekken"] = ChatTemplateFamily.MistralV7Tekken, ["phi3"] = ChatTemplateFamily.Phi3, ["phi4"] = ChatTemplateFamily.Phi4,
        ["falcon3"] = ChatTemplateFamily.Falcon3, ["zephyr"] = ChatTemplateFamily.Zephyr, ["monarch"] = ChatTemplateFamily.Monarch,
        ["gemma"] = ChatTemplateFamily.Gemma, ["orion"] = ChatTemplateFamily.Orion, ["openchat"] = ChatTemplateFamily.OpenChat,
        ["vicuna"] = ChatTemplateFamily.Vicuna, ["vicuna-orca"] = ChatTemplateFamily.VicunaOrca, ["deepseek"] = ChatTemplateFamily.DeepSeek,
        ["deepseek2"] = ChatTemplateFamily.DeepSeek2, ["deepseek3"] = ChatTemplateFamily.DeepSeek3, ["command-r"] = ChatTemplateFamily.CommandR,
        ["llama3"] = ChatTemplateFamily.Llama3, ["chatglm3"] = ChatTemplateFamily.ChatGlm3, ["chatglm4"] = ChatTemplateFamily.ChatGlm4,
        ["glmedge"] = ChatTemplateFamily.GlmEdge, ["minicpm"] = ChatTemplateFamily.MiniCpm, ["exaone3"] = ChatTemplateFamily.Exaone3,
        ["exaone4"] = ChatTemplateFamily.Exaone4, ["rwkv-world"] = ChatTemplateFamily.RwkvWorld, ["gigachat"] = ChatTemplateFamily.GigaChat,
        ["megrez"] = ChatTemplateFamily.Megrez, ["yandex"] = ChatTemplateFamily.Yandex, ["bailing"] = ChatTemplateFamily.Bailing,
        ["llama4"] = ChatTemplateFamily.Llama4, ["smolvlm"] = ChatTemplateFamily.SmolVlm,
    };

    /// <summary>The family of <paramref name="template"/>, or the llama.cpp name of a family not formatted here
    /// ("" when llama.cpp would not recognise the template either).</summary>
    public static (ChatTemplateFamily? Family, string Unsupported) Detect(string template)
    {
        if (Names.TryGetValue(template, out var named)) return (named, "");
        bool Has(string marker) => template.Contains(marker, StringComparison.Ordinal);
        (ChatTemplateFamily?, string) Is(ChatTemplateFamily family) => (family, "");
        (ChatTemplateFamily?, string) Not(string name) => (null, name);

        if (Has("<|im_start|>"))
            return Has("<|im_sep|>") ? Is(ChatTemplateFamily.Phi4)
                : Has("<end_of_utterance>") ? Is(ChatTemplateFamily.SmolVlm) // <|im_start|> as BOS, but not ChatML
                : Is(ChatTemplateFamily.ChatMl);
        if (template.StartsWith("mistral", StringComparison.Ordinal) || Has("[INST]"))
        {
            if (Has("[SYSTEM_PROMPT]")) return Is(ChatTemplateFamily.MistralV7);
            if (Has("' [INST] ' + system_message") || Has("[AVAILABLE_TOOLS]"))
                return Has(" [INST]") ? Is(ChatTemplateFamily.MistralV1)
                    : Has("\"[INST]\"") ? Is(ChatTemplateFamily.MistralV3Tekken)
                    : Is(ChatTemplateFamily.MistralV3);
            return Has("content.strip()") ? Is(ChatTemplateFamily.Llama2SysStrip)
                : Has("bos_token + '[INST]") ? Is(ChatTemplateFamily.Llama2SysBos)
                : Has("<<SYS>>") ? Is(ChatTemplateFamily.Llama2Sys)
                : Is(ChatTemplateFamily.Llama2);
        }
        if (Has("<|assistant|>") && Has("<|end|>")) return Is(ChatTemplateFamily.Phi3);
        if (Has("[gMASK]<sop>")) return Is(ChatTemplateFamily.ChatGlm4);
        if (Has("<|assistant|>") && Has("<|user|>")) return Is(Has("</s>") ? ChatTemplateFamily.Falcon3 : ChatTemplateFamily.GlmEdge);
        if (Has("<|{{ item['role'] }}|>") && Has("<|begin_of_image|>")) return Is(ChatTemplateFamily.GlmEdge);
        if (Has("<|user|>") && Has("<|endoftext|>")) return Is(ChatTemplateFamily.Zephyr);
        if (Has("bos_token + message['role']")) return Is(ChatTemplateFamily.Monarch);
        if (Has("<start_of_turn>")) return Is(ChatTemplateFamily.Gemma);
        if (Has("'\\n\\nAssistant: ' + eos_token")) return Is(ChatTemplateFamily.Orion);
        if (Has("GPT4 Correct ")) return Is(ChatTemplateFamily.OpenChat);
        if (Has("USER: ") && Has("ASSISTANT: ")) return Is(Has("SYSTEM: ") ? ChatTemplateFamily.VicunaOrca : ChatTemplateFamily.Vicuna);
        if (Has("### Instruction:") && Has("<|EOT|>")) return Is(ChatTemplateFamily.DeepSeek);
        if (Has("<|START_OF_TURN_TOKEN|>") && Has("<|USER_TOKEN|>")) return Is(ChatTemplateFamily.CommandR);
        if (Has("<|start_header_id|>") && Has("<|end_header_id|>")) return Is(ChatTemplateFamily.Llama3);
        if (Has("[gMASK]sop")) return Is(ChatTemplateFamily.ChatGlm3);
        if (Has("<用户>")) return Is(ChatTemplateFamily.MiniCpm);
        if (Has("'Assistant: ' + message['content'] + eos_token")) return Is(ChatTemplateFamily.DeepSeek2);
        if (Has("<｜Assistant｜>") && Has("<｜User｜>") && Has("<｜end▁of▁sentence｜>")) return Is(ChatTemplateFamily.DeepSeek3);
        if (Has("[|system|]") && Has("[|assistant|]") && Has("[|endofturn|]"))
            return Is(Has("[|tool|]") ? ChatTemplateFamily.Exaone4 : ChatTemplateFamily.Exaone3);
        if (Has("rwkv-world") || Has("{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")) return Is(ChatTemplateFamily.RwkvWorld);
        if (Has("<|start_of_role|>")) return Not("granite");
        if (Has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]"))
            return Is(ChatTemplateFamily.GigaChat);
        if (Has("<|role_start|>")) return Is(ChatTemplateFamily.Megrez);
        if (Has(" Ассистент:")) return Is(ChatTemplateFamily.Yandex);
        if (Has("<role>ASSISTANT</role>") && Has("'HUMAN'")) return Is(ChatTemplateFamily.Bailing);
        if (Has("<|header_start|>") && Has("<|header_end|>")) return Is(ChatTemplateFamily.Llama4);
        if (Has("<|endofuserprompt|>")) return Not("dots1");
        if (Has("<|extra_0|>") && Has("<|extra_4|>")) return Not("hunyuan-moe");
        if (Has("<|start|>") && Has("<|channel|>")) return Not("gpt-oss");
        if (Has("<｜hy_Assistant｜>") && Has("<｜hy_place▁holder▁no▁3｜>")) return Not("hunyuan-dense");
        if (Has("<|im_assistant|>assistant<|im_middle|>")) return Not("kimi-k2");
        if (Has("<seed:bos>")) return Not("seed_oss");
        return Not("");
    }
}
