namespace SpecializedInfer.Chat;

/// <summary>
/// The chat formats llama.cpp applies without a Jinja engine (<c>llm_chat_template</c>), by the names
/// <c>llama_chat_apply_template</c> accepts. The families this library formats; <see cref="ChatTemplate"/> recognises
/// llama.cpp's other families and refuses them.
/// </summary>
public enum ChatTemplateFamily
{
    ChatMl, Llama2, Llama2Sys, Llama2SysBos, Llama2SysStrip, MistralV1, MistralV3, MistralV3Tekken, MistralV7, MistralV7Tekken,
    Phi3, Phi4, Falcon3, Zephyr, Monarch, Gemma, Orion, OpenChat, Vicuna, VicunaOrca, DeepSeek, DeepSeek2, DeepSeek3,
    CommandR, Llama3, ChatGlm3, ChatGlm4, GlmEdge, MiniCpm, Exaone3, Exaone4, RwkvWorld, GigaChat, Megrez, Yandex,
    Bailing, Llama4, SmolVlm,
}
