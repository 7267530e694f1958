// Micro-benchmarks of Tern's hot paths.
//   dotnet run -c Release --project bench/Tern.Benchmarks -- --filter '*'    BenchmarkDotNet, all benchmarks
//   dotnet run -c Release --project bench/Tern.Benchmarks -- alloc          bytes allocated per message, steady state
//   dotnet run -c Release --project bench/Tern.Benchmarks -- alloc --metrics  the same with a listener on the Tern meter
using BenchmarkDotNet.Running;
using Tern.Benchmarks;

if (args is ["alloc", ..])
{
    return await AllocationCheck.RunAsync(withMetrics: args.Contains("--metrics"));
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
