// Micro-benchmarks of Tern's hot paths. Run: dotnet run -c Release --project bench/Tern.Benchmarks -- --filter '*'
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
