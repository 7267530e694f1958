using System.Text.Unicode;

namespace Tern.Protocol;

/// <summary>
/// Incremental, fail-fast UTF-8 validator for the payload of a WebSocket text message (RFC 6455 §8.1), fed in
/// arbitrary pieces: fragments, partial frame payloads, single bytes.
/// </summary>
/// <remarks>
/// <para>
/// "Fail fast" means <see cref="TryValidate"/> returns <see langword="false"/> in the call that delivers the first byte
/// after which no continuation could make the message valid — a server can then close with 1007 before the rest of
/// the message arrives. For example after <c>F4</c> only <c>80..8F</c> may follow (anything higher exceeds U+10FFFF),
/// so <c>F4 90</c> is rejected at the <c>90</c>; after <c>E0</c> only <c>A0..BF</c> (lower is overlong); after
/// <c>ED</c> only <c>80..9F</c> (higher encodes a UTF-16 surrogate); <c>C0</c>, <c>C1</c> and <c>F5..FF</c> are
/// never valid. Non-characters such as U+FFFE and U+FFFF are valid scalar values and are accepted.
/// </para>
/// <para>
/// A message that ends inside a sequence is invalid, but only the caller knows where the message ends: check
/// <see cref="IsComplete"/> after the final fragment. Call <see cref="Reset"/> (or start from
/// <see langword="default"/>) before the next message.
/// </para>
/// <para>
/// The state is four bytes, so the validator can live inline in per-connection state. It is a mutable struct: keep it
/// in a field or local and do not copy it while a message is in progress.
/// </para>
/// </remarks>
public struct Utf8Validator
{
    // Continuation bytes still owed by the sequence in progress; 0 between sequences.
    private byte _pendingContinuations;

    // Inclusive range allowed for the next continuation byte. It is narrower than 80..BF only right after E0, ED, F0
    // and F4: that is where overlongs, surrogates and code points above U+10FFFF are ruled out, one byte early.
    private byte _nextMin;
    private byte _nextMax;

    private bool _invalid;

    /// <summary>
    /// Validates the next piece of the message, continuing any sequence left incomplete by the previous piece.
    /// </summary>
    /// <param name="bytes">The next bytes of the message, in order. May be empty.</param>
    /// <returns>
    /// <see langword="false"/> if the message so far can no longer be valid UTF-8, whatever follows. Once it has
    /// returned <see langword="false"/> it keeps doing so until <see cref="Reset"/>.
    /// </returns>
    public bool TryValidate(ReadOnlySpan<byte> bytes)
    {
        if (_invalid)
        {
            return false;
        }

        int index = 0;
        while (_pendingContinuations != 0 && index < bytes.Length)
        {
            if (!Accept(bytes[index++]))
            {
                return Fail();
            }
        }

        // The bulk holds only whole sequences, so the framework's vectorized validator can check it in one pass; the
        // at most three bytes of a sequence cut off by the end of this piece go through the byte-wise state machine,
        // which both rejects a bad prefix at once and remembers a good one for the next call.
        ReadOnlySpan<byte> rest = bytes[index..];
        int partialStart = StartOfTrailingPartialSequence(rest);
        if (!Utf8.IsValid(rest[..partialStart]))
        {
            return Fail();
        }

        foreach (byte b in rest[partialStart..])
        {
            if (!Accept(b))
            {
                return Fail();
            }
        }

        return true;
    }

    /// <summary>
    /// <see langword="true"/> when everything fed so far is valid and no sequence is left incomplete, i.e. the message
    /// is valid UTF-8 if it ends here. <see langword="false"/> after a failure.
    /// </summary>
    public readonly bool IsComplete => !_invalid && _pendingContinuations == 0;

    /// <summary>Forgets all state, ready for a new message.</summary>
    public void Reset() => this = default;

    private bool Fail()
    {
        _invalid = true;
        return false;
    }

    // Consumes one byte; the single place that encodes the well-formed byte sequences of Unicode Table 3-7.
    private bool Accept(byte b)
    {
        if (_pendingContinuations != 0)
        {
            if (b < _nextMin || b > _nextMax)
            {
                return false;
            }

            _pendingContinuations--;
            _nextMin = 0x80;
            _nextMax = 0xBF;
            return true;
        }

        switch (b)
        {
            case < 0x80:
                return true;
            case >= 0xC2 and <= 0xDF:
                Expect(1, 0x80, 0xBF);
                return true;
            case 0xE0:
                Expect(2, 0xA0, 0xBF);
                return true;
            case 0xED:
                Expect(2, 0x80, 0x9F);
                return true;
            case >= 0xE1 and <= 0xEF:
                Expect(2, 0x80, 0xBF);
                return true;
            case 0xF0:
                Expect(3, 0x90, 0xBF);
                return true;
            case 0xF4:
                Expect(3, 0x80, 0x8F);
                return true;
            case >= 0xF1 and <= 0xF3:
                Expect(3, 0x80, 0xBF);
                return true;
            default:
                // A continuation byte with no sequence to continue, C0/C1 (always overlong) or F5..FF (beyond U+10FFFF).
                return false;
        }
    }

    private void Expect(byte continuations, byte nextMin, byte nextMax)
    {
        _pendingContinuations = continuations;
        _nextMin = nextMin;
        _nextMax = nextMax;
    }

    // Where the last sequence of `bytes` starts if the end of `bytes` cuts it short; bytes.Length otherwise. Only
    // looks at the last three bytes: a sequence is at most four long, so a cut-off one has at most three here. Invalid
    // lead bytes are classified loosely on purpose — whichever side they land on rejects them.
    private static int StartOfTrailingPartialSequence(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.Length;
        int lowest = Math.Max(0, end - 3);
        for (int i = end - 1; i >= lowest; i--)
        {
            byte b = bytes[i];
            if (b < 0x80)
            {
                return end;
            }

            if (b >= 0xC0)
            {
                int sequenceLength = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
                return end - i < sequenceLength ? i : end;
            }
        }

        return end;
    }
}
