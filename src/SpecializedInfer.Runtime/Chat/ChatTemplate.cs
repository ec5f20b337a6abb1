using System.Text;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Chat;

/// <summary>
/// A GGUF model's chat format, applied as llama.cpp's <c>llama_chat_apply_template</c> applies it: not a Jinja engine,
/// but the template's family recognised by its markers (<see cref="Detect"/>) and that family's fixed layout written
/// out (<see cref="Apply"/>). The result is text with the family's special tokens spelt out; tokenize it with
/// parse_special so they become tokens, and with add_special so the model's BOS comes first, as llama.cpp's chat does.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The GGUF metadata key of a model's Jinja chat template.</summary>
    public const string MetadataKey = "tokenizer.chat_template";

    // C's isspace in the "C" locale, which llama.cpp's trim uses: Unicode spaces stay.
    private static readonly char[] AsciiSpace = [' ', '\t', '\n', '\v', '\f', '\r'];

    private ChatTemplate(ChatTemplateFamily family) => Family = family;

    /// <summary>The family the template was recognised as.</summary>
    public ChatTemplateFamily Family { get; }

    /// <summary>llama.cpp's name of the family ("chatml", "llama3", ...).</summary>
    public string Name => ChatTemplateDetection.Names.First(kv => kv.Value == Family).Key;

    /// <summary>ChatML, what llama.cpp applies when a model carries no template.</summary>
    public static ChatTemplate ChatMl { get; } = new(ChatTemplateFamily.ChatMl);

    /// <summary>Every family name <see cref="Detect"/> accepts by name.</summary>
    public static IReadOnlyCollection<string> FamilyNames => ChatTemplateDetection.Names.Keys.ToArray();

    /// <summary>
    /// Recognises <paramref name="template"/> (a Jinja template, or a family name such as "llama3") as llama.cpp does;
    /// null is ChatML. A template llama.cpp would not recognise, or whose family is not formatted here, throws
    /// <see cref="UnsupportedChatTemplateException"/>.
    /// </summary>
    public static ChatTemplate Detect(string? template)
    {
        if (template is null) return ChatMl;
        var (family, unsupported) = ChatTemplateDetection.Detect(template);
        if (family is { } f) return new ChatTemplate(f);
        var start = template.Length > 60 ? template[..60] + "..." : template;
        var supported = string.Join(", ", ChatTemplateDetection.Names.Keys);
        throw new UnsupportedChatTemplateException(unsupported.Length > 0
            ? $"The chat template is llama.cpp's \"{unsupported}\" family, which this library does not format (it formats {supported}). The template begins: \"{start}\"."
            : $"The chat template is not one of the families llama.cpp recognises without a Jinja engine ({supported}). The template begins: \"{start}\".");
    }

    /// <summary>The template of a GGUF file (<c>tokenizer.chat_template</c>), or ChatML when it has none.</summary>
    public static ChatTemplate FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return file.Find(MetadataKey) switch
        {
            null => ChatMl,
            { Value: string template } => Detect(template),
            var v => throw new GgufFormatException(file.FilePath, v.Offset, $"'{MetadataKey}' to be a string, found {v.Type}"),
        };
    }

    /// <summary>
    /// The conversation as the family lays it out, ending with the assistant's opening when
    /// <paramref name="addAssistantPrompt"/> (families without one, such as Mistral's, ignore it, as llama.cpp does).
    /// </summary>
    public string Apply(IReadOnlyList<ChatTurn> messages, bool addAssistantPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var ss = new StringBuilder();
        var add = addAssistantPrompt;
        switch (Family)
        {
            case ChatTemplateFamily.ChatMl:
                foreach (var m in messages) ss.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                if (add) ss.Append("<|im_start|>assistant\n");
                break;
            case ChatTemplateFamily.MistralV7 or ChatTemplateFamily.MistralV7Tekken:
                MistralV7(messages, ss, Family == ChatTemplateFamily.MistralV7 ? " " : "");
                break;
            case ChatTemplateFamily.MistralV1 or ChatTemplateFamily.MistralV3 or ChatTemplateFamily.MistralV3Tekken:
                MistralV1V3(messages, ss, Family);
                break;
            case ChatTemplateFamily.Llama2 or ChatTemplateFamily.Llama2Sys or ChatTemplateFamily.Llama2SysBos or ChatTemplateFamily.Llama2SysStrip:
                Llama2(messages, ss, Family);
                break;
            case ChatTemplateFamily.Phi3:
                foreach (var m in messages) ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|end|>\n");
                if (add) ss.Append("<|assistant|>\n");
                break;
            case ChatTemplateFamily.Phi4:
                foreach (var m in messages) ss.Append("<|im_start|>").Append(m.Role).Append("<|im_sep|>").Append(m.Content).Append("<|im_end|>");
                if (add) ss.Append("<|im_start|>assistant<|im_sep|>");
                break;
            case ChatTemplateFamily.Falcon3:
                foreach (var m in messages) ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append('\n');
                if (add) ss.Append("<|assistant|>\n");
                break;
            case ChatTemplateFamily.Zephyr:
                foreach (var m in messages) ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|endoftext|>\n");
                if (add) ss.Append("<|assistant|>\n");
                break;
            case ChatTemplateFamily.Monarch:
                for (var i = 0; i < messages.Count; i++)
                    ss.Append(i == 0 ? "" : "<s>").Append(messages[i].Role).Append('\n').Append(messages[i].Content).Append("</s>\n");
                if (add) ss.Append("<s>assistant\n");
                break;
            case ChatTemplateFamily.Gemma:
                Gemma(messages, ss, add);
                break;
            case ChatTemplateFamily.Orion:
                Orion(messages, ss);
                break;
            case ChatTemplateFamily.OpenChat:
                foreach (var m in messages)
                {
                    if (m.Role == "system") ss.Append(m.Content).Append("<|end_of_turn|>");
                    else ss.Append("GPT4 Correct ").Append(CapitalizeFirst(m.Role)).Append(": ").Append(m.Content).Append("<|end_of_turn|>");
                }
                if (add) ss.Append("GPT4 Correct Assistant:");
                break;
            case ChatTemplateFamily.Vicuna or ChatTemplateFamily.VicunaOrca:
                foreach (var m in messages)
                {
                    if (m.Role == "system")
                        ss.Append(Family == ChatTemplateFamily.VicunaOrca ? "SYSTEM: " + m.Content + "\n" : m.Content + "\n\n");
                    else if (m.Role == "user") ss.Append("USER: ").Append(m.Content).Append('\n');
                    else if (m.Role == "assistant") ss.Append("ASSISTANT: ").Append(m.Content).Append("</s>\n");
                }
                if (add) ss.Append("ASSISTANT:");
                break;
            case ChatTemplateFamily.DeepSeek:
                foreach (var m in messages)
                {
                    if (m.Role == "system") ss.Append(m.Content);
                    else if (m.Role == "user") ss.Append("### Instruction:\n").Append(m.Content).Append('\n');
                    else if (m.Role == "assistant") ss.Append("### Response:\n").Append(m.Content).Append("\n<|EOT|>\n");
                }
                if (add) ss.Append("### Response:\n");
                break;
            case ChatTemplateFamily.CommandR:
                foreach (var m in messages)
                {
                    var token = m.Role switch { "system" => "<|SYSTEM_TOKEN|>", "user" => "<|USER_TOKEN|>", "assistant" => "<|CHATBOT_TOKEN|>", _ => null };
                    if (token is not null) ss.Append("<|START_OF_TURN_TOKEN|>").Append(token).Append(Trim(m.Content)).Append("<|END_OF_TURN_TOKEN|>");
                }
                if (add) ss.Append("<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
                break;
            case ChatTemplateFamily.Llama3:
                foreach (var m in messages)
                    ss.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(Trim(m.Content)).Append("<|eot_id|>");
                if (add) ss.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case ChatTemplateFamily.ChatGlm3:
                ss.Append("[gMASK]sop");
                foreach (var m in messages) ss.Append("<|").Append(m.Role).Append("|>\n ").Append(m.Content);
                if (add) ss.Append("<|assistant|>");
                break;
            case ChatTemplateFamily.ChatGlm4:
                ss.Append("[gMASK]<sop>");
                foreach (var m in messages) ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content);
                if (add) ss.Append("<|assistant|>\n");
                break;
            case ChatTemplateFamily.GlmEdge:
                foreach (var m in messages) ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content);
                if (add) ss.Append("<|assistant|>");
                break;
            case ChatTemplateFamily.MiniCpm:
                foreach (var m in messages)
                {
                    if (m.Role == "user") ss.Append("<用户>").Append(Trim(m.Content)).Append("<AI>");
                    else ss.Append(Trim(m.Content));
                }
                break;
            case ChatTemplateFamily.DeepSeek2:
                foreach (var m in messages)
                {
                    if (m.Role == "system") ss.Append(m.Content).Append("\n\n");
                    else if (m.Role == "user") ss.Append("User: ").Append(m.Content).Append("\n\n");
                    else if (m.Role == "assistant") ss.Append("Assistant: ").Append(m.Content).Append("<｜end▁of▁sentence｜>");
                }
                if (add) ss.Append("Assistant:");
                break;
            case ChatTemplateFamily.DeepSeek3:
                foreach (var m in messages)
                {
                    if (m.Role == "system") ss.Append(m.Content).Append("\n\n");
                    else if (m.Role == "user") ss.Append("<｜User｜>").Append(m.Content);
                    else if (m.Role == "assistant") ss.Append("<｜Assistant｜>").Append(m.Content).Append("<｜end▁of▁sentence｜>");
                }
                if (add) ss.Append("<｜Assistant｜>");
                break;
            case ChatTemplateFamily.Exaone3 or ChatTemplateFamily.Exaone4:
                foreach (var m in messages)
                {
                    if (m.Role == "system") ss.Append("[|system|]").Append(Trim(m.Content)).Append("[|endofturn|]\n");
                    else if (m.Role == "user") ss.Append("[|user|]").Append(Trim(m.Content)).Append('\n');
                    else if (m.Role == "assistant") ss.Append("[|assistant|]").Append(Trim(m.Content)).Append("[|endofturn|]\n");
                    else if (m.Role == "tool" && Family == ChatTemplateFamily.Exaone4) ss.Append("[|tool|]").Append(Trim(m.Content)).Append("[|endofturn|]\n");
                }
                if (add) ss.Append("[|assistant|]");
                break;
            case ChatTemplateFamily.RwkvWorld:
                for (var i = 0; i < messages.Count; i++)
                {
                    var m = messages[i];
                    if (m.Role == "system") ss.Append("System: ").Append(Trim(m.Content)).Append("\n\n");
                    else if (m.Role == "user")
                    {
                        ss.Append("User: ").Append(Trim(m.Content)).Append("\n\n");
                        if (i == messages.Count - 1) ss.Append("Assistant:");
                    }
                    else if (m.Role == "assistant") ss.Append("Assistant: ").Append(Trim(m.Content)).Append("\n\n");
                }
                break;
            case ChatTemplateFamily.GigaChat:
                GigaChat(messages, ss, add);
                break;
            case ChatTemplateFamily.Megrez:
                foreach (var m in messages) ss.Append("<|role_start|>").Append(m.Role).Append("<|role_end|>").Append(m.Content).Append("<|turn_end|>");
                if (add) ss.Append("<|role_start|>assistant<|role_end|>");
                break;
            case ChatTemplateFamily.Yandex:
                foreach (var m in messages)
                {
                    if (m.Role == "user") ss.Append(" Пользователь: ").Append(m.Content).Append("\n\n");
                    else if (m.Role == "assistant") ss.Append(" Ассистент: ").Append(m.Content).Append("\n\n");
                }
                if (add) ss.Append(" Ассистент:[SEP]");
                break;
            case ChatTemplateFamily.Bailing:
                foreach (var m in messages)
                    ss.Append("<role>").Append(m.Role == "user" ? "HUMAN" : AsciiUpper(m.Role)).Append("</role>").Append(m.Content);
                if (add) ss.Append("<role>ASSISTANT</role>");
                break;
            case ChatTemplateFamily.Llama4:
                foreach (var m in messages)
                    ss.Append("<|header_start|>").Append(m.Role).Append("<|header_end|>\n\n").Append(Trim(m.Content)).Append("<|eot|>");
                if (add) ss.Append("<|header_start|>assistant<|header_end|>\n\n");
                break;
            case ChatTemplateFamily.SmolVlm:
                ss.Append("<|im_start|>");
                foreach (var m in messages)
                {
                    if (m.Role == "system") ss.Append(m.Content).Append("\n\n");
                    else if (m.Role == "user") ss.Append("User: ").Append(m.Content).Append("<end_of_utterance>\n");
                    else ss.Append("Assistant: ").Append(m.Content).Append("<end_of_utterance>\n");
                }
                if (add) ss.Append("Assistant:");
                break;
            default:
                throw new InvalidOperationException($"No layout for the chat template family {Family}.");
        }
        return ss.ToString();
    }

    private static void MistralV7(IReadOnlyList<ChatTurn> messages, StringBuilder ss, string space)
    {
        foreach (var m in messages)
        {
            if (m.Role == "system") ss.Append("[SYSTEM_PROMPT]").Append(space).Append(m.Content).Append("[/SYSTEM_PROMPT]");
            else if (m.Role == "user") ss.Append("[INST]").Append(space).Append(m.Content).Append("[/INST]");
            else ss.Append(space).Append(m.Content).Append("</s>");
        }
    }

    private static void MistralV1V3(IReadOnlyList<ChatTurn> messages, StringBuilder ss, ChatTemplateFamily family)
    {
        var leading = family == ChatTemplateFamily.MistralV1 ? " " : "";
        var trailing = family == ChatTemplateFamily.MistralV3Tekken ? "" : " ";
        var trimAssistant = family == ChatTemplateFamily.MistralV3;
        var insideTurn = false;
        foreach (var m in messages)
        {
            if (!insideTurn)
            {
                ss.Append(leading).Append("[INST]").Append(trailing);
                insideTurn = true;
            }
            if (m.Role == "system") ss.Append(m.Content).Append("\n\n");
            else if (m.Role == "user") ss.Append(m.Content).Append(leading).Append("[/INST]");
            else
            {
                ss.Append(trailing).Append(trimAssistant ? Trim(m.Content) : m.Content).Append("</s>");
                insideTurn = false;
            }
        }
    }

    private static void Llama2(IReadOnlyList<ChatTurn> messages, StringBuilder ss, ChatTemplateFamily family)
    {
        var systemSupported = family != ChatTemplateFamily.Llama2;
        var bosInsideHistory = family == ChatTemplateFamily.Llama2SysBos;
        var strip = family == ChatTemplateFamily.Llama2SysStrip;
        var insideTurn = true; // the first [INST] comes without BOS
        ss.Append("[INST] ");
        foreach (var m in messages)
        {
            var content = strip ? Trim(m.Content) : m.Content;
            if (!insideTurn)
            {
                insideTurn = true;
                ss.Append(bosInsideHistory ? "<s>[INST] " : "[INST] ");
            }
            if (m.Role == "system")
                ss.Append(systemSupported ? "<<SYS>>\n" + content + "\n<</SYS>>\n\n" : content + "\n");
            else if (m.Role == "user") ss.Append(content).Append(" [/INST]");
            else
            {
                ss.Append(content).Append("</s>");
                insideTurn = false;
            }
        }
    }

    private static void Gemma(IReadOnlyList<ChatTurn> messages, StringBuilder ss, bool add)
    {
        // Gemma has no system turn: the system text goes in front of the next user turn.
        var system = "";
        foreach (var m in messages)
        {
            if (m.Role == "system")
            {
                system += Trim(m.Content);
                continue;
            }
            var role = m.Role == "assistant" ? "model" : m.Role;
            ss.Append("<start_of_turn>").Append(role).Append('\n');
            if (system.Length > 0 && role != "model")
            {
                ss.Append(system).Append("\n\n");
                system = "";
            }
            ss.Append(Trim(m.Content)).Append("<end_of_turn>\n");
        }
        if (add) ss.Append("<start_of_turn>model\n");
    }

    private static void Orion(IReadOnlyList<ChatTurn> messages, StringBuilder ss)
    {
        var system = "";
        foreach (var m in messages)
        {
            if (m.Role == "system")
            {
                system += m.Content;
                continue;
            }
            if (m.Role == "user")
            {
                ss.Append("Human: ");
                if (system.Length > 0)
                {
                    ss.Append(system).Append("\n\n");
                    system = "";
                }
                ss.Append(m.Content).Append("\n\nAssistant: </s>");
            }
            else ss.Append(m.Content).Append("</s>");
        }
    }

    private static void GigaChat(IReadOnlyList<ChatTurn> messages, StringBuilder ss, bool add)
    {
        var hasSystem = messages.Count > 0 && messages[0].Role == "system";
        ss.Append("<s>");
        if (hasSystem) ss.Append(messages[0].Content).Append("<|message_sep|>");
        for (var i = hasSystem ? 1 : 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role == "user")
                ss.Append("user<|role_sep|>").Append(m.Content).Append("<|message_sep|>").Append("available functions<|role_sep|>[]<|message_sep|>");
            else if (m.Role == "assistant") ss.Append("assistant<|role_sep|>").Append(m.Content).Append("<|message_sep|>");
        }
        if (add) ss.Append("assistant<|role_sep|>");
    }

    private static string Trim(string s) => s.Trim(AsciiSpace);

    private static string CapitalizeFirst(string role) =>
        role.Length > 0 && role[0] is >= 'a' and <= 'z' ? char.ToUpperInvariant(role[0]) + role[1..] : role;

    private static string AsciiUpper(string s) =>
        string.Create(s.Length, s, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++) span[i] = source[i] is >= 'a' and <= 'z' ? (char)(source[i] - 32) : source[i];
        });
}
