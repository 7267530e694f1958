// Micro-benchmarks of Tern's hot paths.
//   dotnet run -c Release --project bench/Tern.Benchmarks -- --filter '*'    BenchmarkDotNet, all benchmarks
//   dotnet run -c Release --project bench/Tern.Benchmarks -- alloc          bytes allocated per message, steady state
using BenchmarkDotNet.Running;
using Tern.Benchmarks;

if (args is ["alloc"])
{
    return await AllocationCheck.RunAsync();
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
