using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;

namespace Tern.Chat.Accounts;

/// <summary>
/// Hashes and verifies passwords with Argon2id (Konscious.Security.Cryptography.Argon2), storing them as PHC strings
/// (<see cref="PasswordHashString"/>): a 16-byte random salt, a 32-byte output, and by default OWASP's parameters
/// m=19456 KiB, t=2, p=1.
/// </summary>
/// <remarks>
/// <para>Cost, measured on the 2-core development machine (Release, .NET 10.0, Konscious 1.3.1; three runs of ten hashes
/// after two warm-ups): one hash with the default parameters takes a median of 105–110 ms (fastest 42–47 ms: those that
/// reuse memory a garbage collection has just freed, rather than take fresh pages from the system) and holds 19 MiB while it runs. The reference C implementation
/// takes about 75 ms of CPU for the same hash.
/// That is why at most <see cref="MaxConcurrency"/> hashes run at once (others wait their turn): a burst of sign-ins
/// must not allocate 19 MiB per request, nor block the threads that serve sockets. Each hash runs on a thread of its
/// own, not a thread-pool thread, for the same reason.</para>
/// <para>Passwords are normalized (NFKC, as NIST SP 800-63B advises) and encoded as UTF-8 before hashing, so the same
/// password typed on another keyboard or system still matches.</para>
/// </remarks>
public sealed class PasswordHasher : IDisposable
{
    /// <summary>Bytes of random salt per hash.</summary>
    public const int SaltBytes = 16;

    /// <summary>Bytes of KDF output per hash.</summary>
    public const int HashBytes = 32;

    private readonly SemaphoreSlim _gate;
    private int _running;

    /// <summary>Creates a hasher.</summary>
    /// <param name="parameters">Cost of new hashes; default <see cref="PasswordHashParameters.Owasp"/>.</param>
    /// <param name="maxConcurrency">Most hashes computed at once; default the processor count.</param>
    public PasswordHasher(PasswordHashParameters? parameters = null, int? maxConcurrency = null)
    {
        Parameters = parameters ?? PasswordHashParameters.Owasp;
        if (!Parameters.IsWithinBounds)
        {
            throw new ArgumentOutOfRangeException(nameof(parameters), Parameters, "Argon2 parameters out of bounds.");
        }

        MaxConcurrency = maxConcurrency ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrency, 1, nameof(maxConcurrency));
        _gate = new SemaphoreSlim(MaxConcurrency, MaxConcurrency);
    }

    /// <summary>The cost of new hashes.</summary>
    public PasswordHashParameters Parameters { get; }

    /// <summary>Most hashes computed at once.</summary>
    public int MaxConcurrency { get; }

    /// <summary>Hashes a password with a new random salt; returns the PHC string to store.</summary>
    /// <exception cref="ArgumentException">The password is empty.</exception>
    public async Task<string> HashAsync(string password, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(password);
        byte[] salt = RandomNumberGenerator.GetBytes(SaltBytes);
        byte[] hash = await DeriveAsync(password, salt, Parameters, cancellationToken).ConfigureAwait(false);
        return new PasswordHashString(Parameters, salt, hash).ToString();
    }

    /// <summary>
    /// True when <paramref name="password"/> matches the stored hash. When there is no usable hash (an unknown
    /// account, one that cannot sign in, or a damaged string) the same work is done against a random salt and the
    /// answer is false, so the time taken does not tell whether an account exists.
    /// </summary>
    public async Task<bool> VerifyAsync(string password, string? storedHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length == 0 || !PasswordHashString.TryParse(storedHash, out PasswordHashString? stored))
        {
            // No password can be empty (and Konscious refuses one): the work is done on a stand-in, and it fails.
            await DeriveAsync(password.Length == 0 ? "\0" : password, RandomNumberGenerator.GetBytes(SaltBytes), Parameters, cancellationToken).ConfigureAwait(false);
            return false;
        }

        byte[] actual = await DeriveAsync(password, stored.Salt.ToArray(), stored.Parameters, stored.Hash.Length, cancellationToken).ConfigureAwait(false);
        return CryptographicOperations.FixedTimeEquals(actual, stored.Hash);
    }

    /// <summary>
    /// Does the work of one verification and answers nothing: for a sign-in with a name that has no account, so it
    /// takes as long as one that has.
    /// </summary>
    public Task SimulateVerifyAsync(string password, CancellationToken cancellationToken = default) =>
        VerifyAsync(password, storedHash: null, cancellationToken);

    /// <summary>
    /// True when a stored hash should be replaced by a new one (made at the next successful sign-in, when the password
    /// is at hand): it is not Argon2id, or it is weaker than <see cref="Parameters"/>, or its salt or output is shorter.
    /// </summary>
    public bool NeedsRehash(string? storedHash)
    {
        if (!PasswordHashString.TryParse(storedHash, out PasswordHashString? stored))
        {
            return true;
        }

        PasswordHashParameters p = stored.Parameters;
        return p.MemoryKiB < Parameters.MemoryKiB || p.Iterations < Parameters.Iterations || p.Parallelism != Parameters.Parallelism
            || stored.Salt.Length < SaltBytes || stored.Hash.Length < HashBytes;
    }

    /// <summary>Hashes being computed right now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>For tests: called on the hashing thread as each hash starts, with its parameters.</summary>
    internal Action<PasswordHashParameters>? OnDeriving { get; set; }

    /// <inheritdoc/>
    public void Dispose() => _gate.Dispose();

    private Task<byte[]> DeriveAsync(string password, byte[] salt, PasswordHashParameters parameters, CancellationToken cancellationToken) =>
        DeriveAsync(password, salt, parameters, HashBytes, cancellationToken);

    private async Task<byte[]> DeriveAsync(string password, byte[] salt, PasswordHashParameters parameters, int outputBytes, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // LongRunning: a thread of its own, so tens of milliseconds of hashing never hold a thread-pool thread that
            // socket completions need (the pool adds threads slowly, and this machine has two cores).
            return await Task.Factory.StartNew(
                () =>
                {
                    Interlocked.Increment(ref _running);
                    try
                    {
                        OnDeriving?.Invoke(parameters);
                        return Derive(password, salt, parameters, outputBytes);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _running);
                    }
                },
                cancellationToken,
                TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach,
                TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>NFKC, or the text as it is when it cannot be normalized (a lone surrogate; UTF-8 then replaces it).</summary>
    private static string NormalizeForHashing(string password)
    {
        try
        {
            return password.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return password;
        }
    }

    /// <summary>The raw Argon2id output, computed on the calling thread.</summary>
    internal static byte[] Derive(string password, byte[] salt, PasswordHashParameters parameters, int outputBytes)
    {
        byte[] passwordBytes = Encoding.UTF8.GetBytes(NormalizeForHashing(password));
        try
        {
            using var argon2 = new Argon2id(passwordBytes)
            {
                Salt = salt,
                MemorySize = parameters.MemoryKiB,
                Iterations = parameters.Iterations,
                DegreeOfParallelism = parameters.Parallelism,
            };
            return argon2.GetBytes(outputBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passwordBytes);
        }
    }
}
