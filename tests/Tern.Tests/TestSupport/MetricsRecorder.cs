using System.Diagnostics.Metrics;

namespace Tern.Tests.TestSupport;

/// <summary>
/// Listens to one meter instance (tests run servers in parallel, each with its own meter named "Tern", so matching the
/// name would mix them) and sums what its instruments record, by instrument and tag.
/// </summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly object _lock = new();
    private readonly Dictionary<string, long> _totals = new(StringComparer.Ordinal);
    private Dictionary<string, long> _observed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _published = new(StringComparer.Ordinal);
    private readonly HashSet<string> _completed = new(StringComparer.Ordinal);

    public MetricsRecorder(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                lock (_lock)
                {
                    _published.Add(instrument.Name);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.MeasurementsCompleted = (instrument, _) =>
        {
            lock (_lock)
            {
                _completed.Add(instrument.Name);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Names of the instruments published on the meter.</summary>
    public IReadOnlyCollection<string> Published
    {
        get
        {
            lock (_lock)
            {
                return _published.ToArray();
            }
        }
    }

    /// <summary>Names of the instruments whose measurements ended (their meter was disposed).</summary>
    public IReadOnlyCollection<string> Completed
    {
        get
        {
            lock (_lock)
            {
                return _completed.ToArray();
            }
        }
    }

    /// <summary>The sum recorded so far by a counter, over the measurements carrying <paramref name="tag"/> ("key=value"), or all.</summary>
    public long Total(string instrument, string? tag = null)
    {
        lock (_lock)
        {
            return Sum(_totals, instrument, tag);
        }
    }

    /// <summary>Collects the observable instruments now and returns one's value (summed over the measurements carrying <paramref name="tag"/>, or all).</summary>
    public long Observe(string instrument, string? tag = null)
    {
        lock (_lock)
        {
            _observed = new Dictionary<string, long>(StringComparer.Ordinal);
        }

        _listener.RecordObservableInstruments();
        lock (_lock)
        {
            return Sum(_observed, instrument, tag);
        }
    }

    /// <summary>Every tag set a counter has recorded, as "key=value" strings.</summary>
    public IReadOnlyList<string> TagSets(string instrument)
    {
        lock (_lock)
        {
            return _totals.Keys.Where(k => k.StartsWith(instrument + "|", StringComparison.Ordinal)).Select(k => k[(instrument.Length + 1)..]).Order().ToArray();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var parts = new List<string>();
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            parts.Add($"{tag.Key}={tag.Value}");
        }

        parts.Sort(StringComparer.Ordinal);
        string key = instrument.Name + "|" + string.Join(",", parts);
        lock (_lock)
        {
            if (instrument.IsObservable)
            {
                _observed[key] = _observed.GetValueOrDefault(key) + value;
            }
            else
            {
                _totals[key] = _totals.GetValueOrDefault(key) + value;
            }
        }
    }

    private static long Sum(Dictionary<string, long> values, string instrument, string? tag)
    {
        long sum = 0;
        foreach ((string key, long value) in values)
        {
            int bar = key.IndexOf('|', StringComparison.Ordinal);
            if (key.AsSpan(0, bar).SequenceEqual(instrument) && (tag is null || key[(bar + 1)..].Split(',').Contains(tag)))
            {
                sum += value;
            }
        }

        return sum;
    }
}
