namespace SpecializedInfer.Generator.Tests;

/// <summary>Entry point for the child processes of <see cref="FallbackPathTests"/>; the test host never calls it.</summary>
public static class Program
{
    public static int Main(string[] args) => args is ["path-check", ..] ? FallbackPathTests.RunChild(args[1..]) : 2;
}
