using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tern.Tests.TestSupport;

/// <summary>Keeps every log entry the server writes, so a test can look for errors or show what happened.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception, EventId EventId, IReadOnlyList<KeyValuePair<string, object?>> Fields)> Entries { get; } = new();

    /// <summary>When set, logging this event id throws after recording it (a faulty logging provider).</summary>
    public int? ThrowOnEventId { get; set; }

    public ILogger CreateLogger(string categoryName) => new Recorder(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public override string ToString() => string.Join(Environment.NewLine, Entries.Select(e => $"{e.Level}: {e.Message}{(e.Exception is null ? "" : " " + e.Exception)}"));

    private sealed class Recorder(RecordingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner.Entries.Enqueue((logLevel, formatter(state, exception), exception, eventId,
                state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
            if (eventId.Id == owner.ThrowOnEventId)
            {
                throw new InvalidOperationException($"The logging provider failed on event {eventId.Id}.");
            }
        }
    }
}
