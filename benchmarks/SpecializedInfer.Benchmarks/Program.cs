using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/SpecializedInfer.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
