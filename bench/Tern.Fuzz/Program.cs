using Tern.Fuzz;

// Usage:
//   dotnet Tern.Fuzz.dll <http|frames|utf8>                 under afl-fuzz (reads each input from AFL's shared memory)
//   dotnet Tern.Fuzz.dll <http|frames|utf8> <file|dir>...    replays inputs without AFL, e.g. a crash from findings/
if (args.Length == 0 || !Targets.All.TryGetValue(args[0], out Action<byte[]>? target))
{
    Console.Error.WriteLine($"usage: Tern.Fuzz <{string.Join('|', Targets.All.Keys)}> [input file or directory...]");
    return 2;
}

if (args.Length == 1)
{
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        target(copy.ToArray());
    });
    return 0;
}

int failures = 0;
int count = 0;
foreach (string path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]))
{
    count++;
    try
    {
        target(File.ReadAllBytes(path));
    }
    catch (Exception e)
    {
        failures++;
        Console.WriteLine($"{path}: {e}");
    }
}

Console.WriteLine($"{count} inputs, {failures} failures");
return failures == 0 ? 0 : 1;
