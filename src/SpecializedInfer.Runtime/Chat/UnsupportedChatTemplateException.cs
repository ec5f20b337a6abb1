namespace SpecializedInfer.Chat;

/// <summary>
/// A chat template this library cannot apply: one llama.cpp's detection does not recognise either, or a family llama.cpp
/// formats that is not reproduced here. The message quotes the template's beginning and names the families supported.
/// </summary>
public sealed class UnsupportedChatTemplateException(string message) : Exception(message);
