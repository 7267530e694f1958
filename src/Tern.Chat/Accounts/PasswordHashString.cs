using System.Buffers.Text;
using System.Globalization;

namespace Tern.Chat.Accounts;

/// <summary>The cost of an Argon2id hash: memory in KiB, passes over it, and lanes.</summary>
/// <param name="MemoryKiB">Memory in KiB (Argon2's <c>m</c>).</param>
/// <param name="Iterations">Passes over the memory (<c>t</c>).</param>
/// <param name="Parallelism">Lanes (<c>p</c>).</param>
public readonly record struct PasswordHashParameters(int MemoryKiB, int Iterations, int Parallelism)
{
    /// <summary>
    /// OWASP's Password Storage Cheat Sheet minimum for Argon2id: m=19456 KiB (19 MiB), t=2, p=1. Raising any of them
    /// later is safe: stored hashes carry their own parameters, and <see cref="PasswordHasher.NeedsRehash"/> says which are older.
    /// </summary>
    public static PasswordHashParameters Owasp { get; } = new(19_456, 2, 1);

    /// <summary>
    /// Most memory a stored hash may ask for (1 GiB). A hash string is data from the database; one asking for more (or
    /// for more than <see cref="MaxIterations"/> or <see cref="MaxParallelism"/>) is treated as damaged rather than
    /// allowed to take the process's memory and time.
    /// </summary>
    public const int MaxMemoryKiB = 1_048_576;

    /// <summary>Most passes a stored hash may ask for.</summary>
    public const int MaxIterations = 64;

    /// <summary>Most lanes a stored hash may ask for.</summary>
    public const int MaxParallelism = 16;

    /// <summary>True when every parameter is at least 1 and within the maximums, with at least 8 KiB per lane (Argon2's minimum).</summary>
    public bool IsWithinBounds =>
        Iterations is >= 1 and <= MaxIterations && Parallelism is >= 1 and <= MaxParallelism
        && MemoryKiB >= 8 * Parallelism && MemoryKiB <= MaxMemoryKiB;
}

/// <summary>
/// A password hash in the PHC string format, <c>$argon2id$v=19$m=19456,t=2,p=1$&lt;salt&gt;$&lt;hash&gt;</c>, where salt
/// and hash are standard Base64 without padding. The format names the algorithm and its parameters, so hashes made
/// with older parameters keep verifying after the defaults are raised.
/// </summary>
public sealed class PasswordHashString
{
    /// <summary>The algorithm identifier this server writes and reads.</summary>
    public const string Argon2idAlgorithm = "argon2id";

    /// <summary>Argon2 version 1.3, the one Konscious implements.</summary>
    public const int Argon2Version = 0x13;

    private readonly byte[] _salt;
    private readonly byte[] _hash;

    /// <summary>Creates a hash string from its parts.</summary>
    public PasswordHashString(PasswordHashParameters parameters, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> hash)
    {
        if (!parameters.IsWithinBounds)
        {
            throw new ArgumentOutOfRangeException(nameof(parameters), parameters, "Argon2 parameters out of bounds.");
        }

        if (salt.Length < 8 || hash.Length < 16)
        {
            throw new ArgumentException("A salt has at least 8 bytes and a hash at least 16.");
        }

        Parameters = parameters;
        _salt = salt.ToArray();
        _hash = hash.ToArray();
    }

    /// <summary>The cost parameters.</summary>
    public PasswordHashParameters Parameters { get; }

    /// <summary>The random salt.</summary>
    public ReadOnlySpan<byte> Salt => _salt;

    /// <summary>The KDF output.</summary>
    public ReadOnlySpan<byte> Hash => _hash;

    /// <summary>Reads a PHC string; false when it is not an Argon2id v19 hash this server can verify.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PasswordHashString? result)
    {
        result = null;
        if (text is null)
        {
            return false;
        }

        // "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
        string[] fields = text.Split('$');
        if (fields.Length != 6 || fields[0].Length != 0 || fields[1] != Argon2idAlgorithm || fields[2] != "v=19")
        {
            return false;
        }

        int? memory = null, iterations = null, parallelism = null;
        foreach (string pair in fields[3].Split(','))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !int.TryParse(pair.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                return false;
            }

            switch (pair[..equals])
            {
                case "m" when memory is null: memory = value; break;
                case "t" when iterations is null: iterations = value; break;
                case "p" when parallelism is null: parallelism = value; break;
                default: return false;
            }
        }

        if (memory is null || iterations is null || parallelism is null)
        {
            return false;
        }

        var parameters = new PasswordHashParameters(memory.Value, iterations.Value, parallelism.Value);
        byte[]? salt = DecodeBase64(fields[4]);
        byte[]? hash = DecodeBase64(fields[5]);
        if (!parameters.IsWithinBounds || salt is null || hash is null || salt.Length < 8 || hash.Length < 16)
        {
            return false;
        }

        result = new PasswordHashString(parameters, salt, hash);
        return true;
    }

    /// <summary>The PHC string.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"${Argon2idAlgorithm}$v=19$m={Parameters.MemoryKiB},t={Parameters.Iterations},p={Parameters.Parallelism}${EncodeBase64(_salt)}${EncodeBase64(_hash)}");

    private static string EncodeBase64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static byte[]? DecodeBase64(string text)
    {
        // The PHC format drops the padding; Convert wants it back. Anything but the Base64 alphabet is refused.
        if (text.Length == 0 || text.Length % 4 == 1 || text.Contains('='))
        {
            return null;
        }

        string padded = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
        byte[] buffer = new byte[Base64.GetMaxDecodedFromUtf8Length(padded.Length)];
        return Convert.TryFromBase64String(padded, buffer, out int written) ? buffer[..written] : null;
    }
}
