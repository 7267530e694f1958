// Where a .NET server's memory per connection goes: attaches to a running process (suspending it while it looks),
// marks the objects reachable from the runtime's roots, and prints the reachable bytes per type divided by the number of
// connections the process holds. Dead objects and free space (fragmentation) are totalled apart, since resident memory
// pays for them too until a garbage collection compacts them away.
using System.Globalization;
using Microsoft.Diagnostics.Runtime;

if (args.Length < 1 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
{
    Console.Error.WriteLine("usage: Tern.HeapWalk <pid> [--per <connections>] [--top <types>]");
    return 2;
}

int per = 1;
int top = 40;
for (int i = 1; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--per": per = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--top": top = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}

using DataTarget target = DataTarget.AttachToProcess(pid, suspend: true);
ClrRuntime runtime = target.ClrVersions[0].CreateRuntime();
ClrHeap heap = runtime.Heap;

var reachable = new HashSet<ulong>();
var pending = new Stack<ulong>();
foreach (ClrRoot root in heap.EnumerateRoots())
{
    if (root.Object.Address != 0 && reachable.Add(root.Object.Address))
    {
        pending.Push(root.Object.Address);
    }
}

while (pending.Count > 0)
{
    ClrObject obj = heap.GetObject(pending.Pop());
    if (!obj.IsValid)
    {
        continue;
    }

    foreach (ClrObject reference in obj.EnumerateReferences(carefully: false, considerDependantHandles: true))
    {
        if (reference.Address != 0 && reachable.Add(reference.Address))
        {
            pending.Push(reference.Address);
        }
    }
}

var byType = new Dictionary<string, (long Count, long Bytes)>();
long live = 0, dead = 0, free = 0, committed = 0;
foreach (ClrSegment segment in heap.Segments)
{
    committed += (long)segment.CommittedMemory.Length;
}

foreach (ClrObject obj in heap.EnumerateObjects())
{
    if (!obj.IsValid)
    {
        continue;
    }

    long size = (long)obj.Size;
    if (obj.IsFree)
    {
        free += size;
    }
    else if (!reachable.Contains(obj.Address))
    {
        dead += size;
    }
    else
    {
        string name = obj.Type?.Name ?? "?";
        byType.TryGetValue(name, out (long Count, long Bytes) sum);
        byType[name] = (sum.Count + 1, sum.Bytes + size);
        live += size;
    }
}

double Per(long bytes) => bytes / (double)per;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"heap committed {Per(committed):F0} B, reachable {Per(live):F0} B, dead {Per(dead):F0} B, free {Per(free):F0} B (per {per})"));
Console.WriteLine("   bytes   count  type");
foreach ((string name, (long count, long bytes)) in byType.OrderByDescending(t => t.Value.Bytes).Take(top))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Per(bytes),8:F1} {count / (double)per,7:F2}  {name}"));
}

return 0;
