using System.Security.Cryptography;
using System.Text;
using Tern.Chat.Accounts;

namespace Tern.Chat.Tests.Accounts;

public sealed class SessionTokensTests
{
    [Fact]
    public void Tokens_are_32_random_bytes_in_base64url()
    {
        var tokens = Enumerable.Range(0, 100).Select(_ => SessionTokens.NewToken()).ToList();

        Assert.All(tokens, token =>
        {
            Assert.Matches("^[A-Za-z0-9_-]{43}$", token);
            Assert.Equal(32, System.Buffers.Text.Base64Url.DecodeFromChars(token).Length);
            Assert.True(SessionTokens.IsWellFormed(token));
        });
        Assert.Equal(tokens.Count, tokens.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void The_stored_hash_is_sha256_hex_and_not_the_token()
    {
        string token = SessionTokens.NewToken();
        string hash = SessionTokens.Hash(token);

        Assert.Matches("^[0-9a-f]{64}$", hash);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token))), hash);
        Assert.DoesNotContain(token, hash, StringComparison.Ordinal);
        Assert.Equal(hash, SessionTokens.Hash(token));
        Assert.NotEqual(hash, SessionTokens.Hash(SessionTokens.NewToken()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // 44
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")] // padding
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")] // base64, not base64url
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\u00E9")]
    public void Malformed_tokens_are_recognized(string? token) => Assert.False(SessionTokens.IsWellFormed(token));
}
