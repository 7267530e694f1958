using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tern.ChatLoad;

/// <summary>A message some sender got its acknowledgement for (its own <c>message</c> event, or the stored copy after a re-send).</summary>
internal readonly record struct Acknowledged(int Sender, int Sequence, long SentTicks, long AckTicks);

/// <summary>What the clients of one run share: the room, the clock, and every acknowledged message by id.</summary>
internal sealed class LoadRun(ChatLoadOptions options, string room, string tag)
{
    public ChatLoadOptions Options { get; } = options;

    /// <summary>The room's name.</summary>
    public string Room { get; } = room;

    /// <summary>Marks this run's messages (first word of every text, and of every ref), so nothing else is counted.</summary>
    public string Tag { get; } = tag;

    /// <summary>The room's conversation id, once the first client joined it.</summary>
    public long Conversation { get; set; }

    /// <summary>Stopwatch ticks: the measured window, and the SIGKILL when there is one (0: none).</summary>
    public long MeasureStart { get; set; } = long.MaxValue;

    public long MeasureEnd { get; set; } = long.MaxValue;

    public long KillTicks { get; set; }

    /// <summary>Set when the run ends: sockets that drop then are not reconnected.</summary>
    public CancellationTokenSource Stopping { get; } = new();

    public ConcurrentDictionary<long, Acknowledged> Acks { get; } = new();

    public bool IsMeasured(long sentTicks) => sentTicks >= MeasureStart && sentTicks < MeasureEnd;

    public static long Now => Stopwatch.GetTimestamp();

    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>A message's text: the tag, who sent it, its number, when (stopwatch ticks), padded to the configured length.</summary>
    public string MessageText(int sender, int sequence, long sentTicks)
    {
        string head = $"{Tag} {sender} {sequence} {sentTicks} ";
        return head.Length >= Options.TextLength ? head : head + new string('x', Options.TextLength - head.Length);
    }

    /// <summary>Reads back what <see cref="MessageText"/> wrote; false for a text of another run or of a person.</summary>
    public bool TryReadText(string text, out int sender, out int sequence, out long sentTicks)
    {
        sender = sequence = 0;
        sentTicks = 0;
        string[] parts = text.Split(' ', 5);
        return parts.Length >= 4 && parts[0] == Tag
            && int.TryParse(parts[1], out sender) && int.TryParse(parts[2], out sequence) && long.TryParse(parts[3], out sentTicks);
    }
}
