import codecs
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls.errors import ParseError
from exchange_tls.sources import decode_bytes
from exchange_tls.tls_settings import (
    RegistryKey,
    RegistryValue,
    Side,
    parse_reg,
    parse_tls_settings,
    powershell_path,
    protocol_key,
    read_tls_settings,
    render_reg,
)

DATA = Path(__file__).parent / "data" / "tls-settings"


def test_microsoft_tls12_enable_reg_enables_tls12_both_sides() -> None:
    """Microsoft's published TLS12-Enable.reg reads: TLS 1.2 enabled for client and server."""
    [settings_] = read_tls_settings(DATA / "ms-docs_exchange-store-addins_TLS12-Enable.reg")
    for side in Side:
        setting = settings_.protocol("TLS 1.2", side)
        assert setting is not None
        assert (setting.enabled, setting.disabled_by_default, setting.offered) == (
            True,
            False,
            True,
        )
        assert setting.enabled_value is not None
        assert setting.enabled_value.source is not None
    client = settings_.protocol("TLS 1.2", Side.CLIENT)
    assert client is not None
    assert client.enabled_value is not None
    assert client.enabled_value.source is not None
    assert client.enabled_value.source.line == 5
    # The file holds only the TLS 1.2 keys: other versions are not covered, so unknown.
    assert settings_.protocol("TLS 1.0", Side.CLIENT) is None
    assert settings_.enabled_versions(Side.CLIENT) is None


def test_microsoft_net4x_reg_sets_system_default_tls_versions_only() -> None:
    """The published NET4X-UseSchannelDefaults.reg sets SystemDefaultTlsVersions, not strong crypto."""
    [settings_] = read_tls_settings(
        DATA / "ms-docs_exchange-store-addins_NET4X-UseSchannelDefaults.reg"
    )
    assert [
        (d.version, d.wow6432, d.uses_system_defaults, d.strong_crypto) for d in settings_.dotnet
    ] == [
        ("v4.0.30319", False, True, False),
        ("v4.0.30319", True, True, False),
    ]


def test_utf16_reg_export_of_protocols_applies_windows_defaults() -> None:
    """A UTF-16 reg export of Protocols: TLS 1.2 client off by value, TLS 1.3 off by default."""
    result = read_tls_settings(
        DATA / "reg-export-schannel-protocols_tls12-client-disabled_utf16.reg"
    )
    [settings_] = result
    assert result.problems == ()
    assert settings_.enabled_versions(Side.CLIENT) == ()
    assert settings_.enabled_versions(Side.SERVER) == ("TLS 1.2",)
    client = settings_.protocol("TLS 1.2", Side.CLIENT)
    assert client is not None
    assert client.enabled_value is not None
    assert client.enabled_value.source is not None
    assert client.enabled_value.source.line == 33
    tls13 = settings_.protocol("TLS 1.3", Side.SERVER)
    assert tls13 is not None
    assert (tls13.enabled, tls13.defaulted) == (False, True)
    # SSL 2.0's default depends on the Windows version: unknown, never guessed.
    ssl2 = settings_.protocol("SSL 2.0", Side.SERVER)
    assert ssl2 is not None
    assert ssl2.enabled is None


def test_regedit4_dotnet_export_finds_the_missing_wow64_value() -> None:
    """REGEDIT4 (ANSI) reads; the 32-bit v4 key lacks SystemDefaultTlsVersions."""
    [settings_] = read_tls_settings(
        DATA / "regedit4-dotnet_wow64-v4-systemdefaulttlsversions-missing.reg"
    )
    missing = [(d.version, d.wow6432) for d in settings_.dotnet if not d.uses_system_defaults]
    assert missing == [("v4.0.30319", True)]
    install = next(value for value in settings_.values if value.name == "InstallPath")
    assert install.data == "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\"


def test_get_itemproperty_format_list_covers_its_key_only() -> None:
    """Get-ItemProperty | fl: the values of the key PSPath names, the line of each value."""
    [settings_] = read_tls_settings(DATA / "get-itemproperty-tls12-client-fl.txt")
    client = settings_.protocol("TLS 1.2", Side.CLIENT)
    assert client is not None
    assert (client.enabled, client.disabled_by_default, client.offered) == (False, True, False)
    assert client.enabled_value is not None
    assert client.enabled_value.source is not None
    assert client.enabled_value.source.line == 3
    assert settings_.protocol("TLS 1.2", Side.SERVER) is None


def test_get_itemproperty_json_reads_the_same() -> None:
    """ConvertTo-Json of Get-ItemProperty gives the same setting as the list."""
    text = (
        '{"Enabled": 0, "DisabledByDefault": 1, "PSPath": '
        '"Microsoft.PowerShell.Core\\\\Registry::HKEY_LOCAL_MACHINE\\\\SYSTEM\\\\CurrentControlSet'
        '\\\\Control\\\\SecurityProviders\\\\SCHANNEL\\\\Protocols\\\\TLS 1.2\\\\Client", '
        '"PSChildName": "Client"}'
    )
    [settings_] = parse_tls_settings(text)
    client = settings_.protocol("TLS 1.2", Side.CLIENT)
    assert client is not None
    assert client.offered is False


def test_reg_errors_have_positions() -> None:
    """A missing header and a bad value are problems at their lines; raise mode raises."""
    text = '[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n"A"=dword:zz\n"B"=dword:00000001\n'
    export = parse_reg(text, source="x.reg")
    assert [(p.code, p.line) for p in export.problems] == [("reg-header", 1), ("reg-value", 2)]
    assert [value.name for value in export.values] == ["B"]
    with pytest.raises(ParseError, match=r"x\.reg:1:1"):
        parse_reg(text, source="x.reg", errors="raise")


def test_continued_hex_and_deletions_read() -> None:
    """hex(7) multi-strings continue over lines; [-key] and "name"=- are deletions."""
    text = (
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"
        '"M"=hex(7):61,00,00,00,\\\r\n  62,00,00,00,00,00\r\n"D"=-\r\n\r\n[-HKEY_CURRENT_USER\\Y]\r\n'
    )
    export = parse_reg(text)
    assert [(v.name, v.kind, v.data) for v in export.values] == [
        ("M", "multi-string", ("a", "b")),
        ("D", "delete", None),
    ]
    assert [(k.path, k.deleted) for k in export.keys] == [
        ("HKEY_CURRENT_USER\\X", False),
        ("HKEY_CURRENT_USER\\Y", True),
    ]


def test_powershell_path_of_a_protocol_key() -> None:
    """The remediation path of a protocol key is the HKLM: drive form."""
    assert powershell_path(protocol_key("TLS 1.2", Side.CLIENT)) == (
        "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols"
        "\\TLS 1.2\\Client"
    )


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    max_size=20,
)
key_parts = (
    st.text(alphabet=string.ascii_letters + string.digits + " .-_", min_size=1, max_size=15)
    .map(str.strip)
    .filter(bool)
)
values_of_a_key = st.lists(
    st.one_of(
        st.tuples(names, st.just("dword"), st.integers(0, 0xFFFFFFFF)),
        st.tuples(names, st.just("string"), names),
        st.tuples(names, st.just("qword"), st.integers(0, 2**64 - 1)),
        st.tuples(names, st.just("binary"), st.binary(max_size=40)),
        st.tuples(
            names, st.just("multi-string"), st.lists(names.filter(bool), max_size=4).map(tuple)
        ),
        st.tuples(names, st.just("expand-string"), names.filter(lambda t: not t.endswith("\x00"))),
    ),
    max_size=6,
    unique_by=lambda item: item[0].casefold(),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(key_parts, min_size=1, max_size=4), values_of_a_key),
        max_size=4,
        unique_by=lambda item: "\\".join(item[0]).casefold(),
    )
)
def test_reg_round_trip(keys: list[tuple[list[str], list[tuple[str, str, object]]]]) -> None:
    """render_reg then parse_reg gives back every key and value (version 5.00, CRLF, UTF-16)."""
    registry_keys = []
    registry_values = []
    for parts, values in keys:
        path = "HKEY_LOCAL_MACHINE\\" + "\\".join(parts)
        registry_keys.append(RegistryKey(path=path))
        registry_values.extend(
            RegistryValue(key=path, name=name, kind=kind, data=data)  # type: ignore[arg-type]
            for name, kind, data in values
        )
    text = render_reg(registry_keys, registry_values)
    decoded = decode_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le")).text
    export = parse_reg(decoded, errors="raise")
    assert export.version == "Windows Registry Editor Version 5.00"
    assert list(export.keys) == registry_keys

    def order(value: RegistryValue) -> tuple[str, str, str]:
        return (value.key, value.name, repr(value.data))

    assert sorted(export.values, key=order) == sorted(registry_values, key=order)


latin_names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            key_parts,
            latin_names,
            st.one_of(
                st.tuples(st.just("dword"), st.integers(0, 0xFFFFFFFF)),
                st.tuples(st.just("string"), latin_names),
                st.tuples(st.just("expand-string"), latin_names),
                st.tuples(
                    st.just("multi-string"),
                    st.lists(latin_names.filter(bool), max_size=3).map(tuple),
                ),
            ),
        ),
        max_size=5,
        unique_by=lambda item: (item[0].casefold(), item[1].casefold()),
    )
)
def test_regedit4_round_trip(items: list[tuple[str, str, tuple[str, object]]]) -> None:
    """REGEDIT4 (ANSI) files written by render_reg read back to the same values."""
    keys: dict[str, RegistryKey] = {}
    values = []
    for part, name, (kind, data) in items:
        path = "HKEY_CURRENT_USER\\" + part
        keys.setdefault(path.casefold(), RegistryKey(path=path))
        values.append(
            RegistryValue(key=keys[path.casefold()].path, name=name, kind=kind, data=data)  # type: ignore[arg-type]
        )
    text = render_reg(list(keys.values()), values, version="4")
    # The text as a Latin-1 reader sees the ANSI file (read_tls_settings decodes files as
    # UTF-8 and reports non-ASCII bytes of a legacy code page).
    export = parse_reg(text.encode("latin-1").decode("latin-1"), errors="raise")
    assert export.version == "REGEDIT4"

    def order(value: RegistryValue) -> tuple[str, str]:
        return (value.key, value.name)

    assert sorted(export.values, key=order) == sorted(values, key=order)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(
                ["REGEDIT4", "[HKLM\\X]", '"A"=hex:0', "\\", '"B"=dword:1', "[-", '"C"="\\']
            ),
        ),
        max_size=10,
    )
)
def test_hostile_reg_text_raises_nothing_but_parse_error(lines: list[str]) -> None:
    """Whatever the text, the TLS settings reader gives settings or raises ParseError."""
    try:
        parse_tls_settings("\n".join(lines), format="reg")
        parse_tls_settings("Windows Registry Editor Version 5.00\n" + "\n".join(lines))
    except ParseError:
        pass


def test_a_published_regedit4_file_reads_escapes_and_default_values() -> None:
    """The aMule docs' REGEDIT4 file: default values, empty strings, escaped quotes."""
    export = parse_reg(
        (DATA / "amule-docs_ed2k-handler_regedit4_escapes-defaults.reg").read_text(encoding="ascii")
    )
    assert export.version == "REGEDIT4"
    assert export.problems == ()
    assert [(value.name, value.data) for value in export.values] == [
        ("", "URL: ed2k Protocol"),
        ("URL Protocol", ""),
        ("", "C:\\Program Files\\aMule\\bin\\amule.exe"),
        ("", '"C:\\Program Files\\aMule\\bin\\ed2k.exe" -c D:\\amule\\config "%1"'),
    ]
    # None of it is a TLS key: the settings cover nothing, and say so by being empty.
    [settings_] = parse_tls_settings(
        (DATA / "amule-docs_ed2k-handler_regedit4_escapes-defaults.reg").read_text(encoding="ascii")
    )
    assert (settings_.protocols, settings_.dotnet) == ((), ())


def test_cipher_keys_are_read_with_their_enabled_value() -> None:
    """Cipher keys: Enabled 0 turns a cipher off, 0xffffffff on, no value is the default."""
    ciphers = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Ciphers"
    [settings_] = parse_tls_settings(
        "Windows Registry Editor Version 5.00\n\n"
        f'[{ciphers}]\n\n[{ciphers}\\AES 256/256]\n"Enabled"=dword:ffffffff\n\n'
        f'[{ciphers}\\RC4 128/128]\n"Enabled"=dword:00000000\n\n[{ciphers}\\NULL]\n'
    )
    assert [(c.name, c.enabled) for c in settings_.ciphers] == [
        ("AES 256/256", True),
        ("NULL", None),
        ("RC4 128/128", False),
    ]


SFB = "ms-docs_sfb-disable-tls-1.0-1.1_"


def test_skype_tls_disable_reg_leaves_only_tls12_by_windows_default() -> None:
    """Microsoft's published TLSDisable.reg (a regedit export, blank line between lines) reads."""
    result = read_tls_settings(DATA / f"{SFB}TLSDisable-reg_blank-lines.reg")
    assert result.format == "reg"
    assert result.problems == ()
    [settings_] = result
    # SSL 2.0 to TLS 1.1 are switched off on both sides; TLS 1.2 has no key, so Windows'
    # default (on) applies, and TLS 1.3's default is off.
    for side in Side:
        assert settings_.enabled_versions(side) == ("TLS 1.2",)
        tls12 = settings_.protocol("TLS 1.2", side)
        assert tls12 is not None
        assert (tls12.key_exists, tls12.defaulted, tls12.offered) == (False, True, True)
    tls10 = settings_.protocol("TLS 1.0", Side.CLIENT)
    assert tls10 is not None
    assert (tls10.enabled, tls10.disabled_by_default) == (False, True)
    assert tls10.enabled_value is not None
    assert tls10.enabled_value.source is not None
    assert tls10.enabled_value.source.line == 167
    ciphers = {cipher.name: cipher.enabled for cipher in settings_.ciphers}
    assert ciphers["AES 256/256"] is True  # dword:FFFFFFFF
    assert ciphers["RC4 128/128"] is False
    assert ciphers["Triple DES 168"] is False
    assert len(ciphers) == 13
    assert settings_.dotnet == ()


def test_skype_prerequisite_reg_sets_strong_crypto_but_not_system_defaults() -> None:
    """TLSPreReq.reg: TLS 1.2 on; .NET v2 and v4 get SchUseStrongCrypto, not SystemDefaultTlsVersions."""
    [settings_] = read_tls_settings(DATA / f"{SFB}TLSPreReq-reg_blank-lines.reg")
    for side in Side:
        tls12 = settings_.protocol("TLS 1.2", side)
        assert tls12 is not None
        assert (tls12.enabled, tls12.disabled_by_default, tls12.defaulted) == (True, False, False)
        # Only the TLS 1.2 keys are in the file: the other versions are not covered.
        assert settings_.enabled_versions(side) is None
    assert sorted(
        (d.version, d.wow6432, d.strong_crypto, d.uses_system_defaults) for d in settings_.dotnet
    ) == [
        ("v2.0.50727", False, True, False),
        ("v2.0.50727", True, True, False),
        ("v4.0.30319", False, True, False),
        ("v4.0.30319", True, True, False),
    ]
    winhttp = [value.data for value in settings_.values if value.name == "DefaultSecureProtocols"]
    assert winhttp == [0xAA0, 0xAA0]


def test_published_get_itemproperty_with_prompts_reads_both_keys() -> None:
    """A blog's two Get-ItemProperty results, each after its prompt: TLS 1.0 and 1.1 client off."""
    result = read_tls_settings(
        DATA / "rleon-blog_get-itemproperty-tls11-tls10-client_fl-with-prompts.txt"
    )
    [settings_] = result
    for version in ("TLS 1.0", "TLS 1.1"):
        client = settings_.protocol(version, Side.CLIENT)
        assert client is not None
        assert (client.enabled, client.disabled_by_default, client.offered) == (False, True, False)
        assert settings_.protocol(version, Side.SERVER) is None
    tls10 = settings_.protocol("TLS 1.0", Side.CLIENT)
    assert tls10 is not None
    assert tls10.enabled_value is not None
    assert tls10.enabled_value.source is not None
    assert tls10.enabled_value.source.line == 15
    assert [(p.code, p.line) for p in result.problems] == [("prompt-line", 1), ("prompt-line", 13)]


def test_a_prompt_after_a_record_is_not_joined_to_its_last_value() -> None:
    """A pasted prompt after a key's values is a problem; the last value keeps its number."""
    path = "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet"
    path += "\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"
    text = (
        f"PSPath            : {path}Server\n"
        "DisabledByDefault : 0\n"
        "Enabled           : 1\n"
        "\n"
        "PS C:\\> Get-ItemProperty 'HKLM:\\SYSTEM\\...\\TLS 1.2\\Client'\n"
        "\n"
        f"PSPath            : {path}Client\n"
        "Enabled           : 0\n"
    )
    result = parse_tls_settings(text)
    [settings_] = result
    server = settings_.protocol("TLS 1.2", Side.SERVER)
    client = settings_.protocol("TLS 1.2", Side.CLIENT)
    assert server is not None
    assert client is not None
    assert (server.enabled, client.enabled) == (True, False)
    assert [(p.code, p.line) for p in result.problems] == [("prompt-line", 5)]


def test_a_stored_utf16_regedit_export_reads_with_its_value_order() -> None:
    """A real UTF-16 LE export from a public repository: TLS 1.1 and 1.2 on, TLS 1.0 by default."""
    name = "faizanxgp-reem-demo_tls-reg_utf16-regedit-export_tls11-tls12-on.reg"
    assert (DATA / name).read_bytes().startswith(b"\xff\xfeW\x00i\x00n\x00")
    result = read_tls_settings(DATA / name)
    assert (result.format, result.problems) == ("reg", ())
    [settings_] = result
    for side in Side:
        # The export covers Protocols: TLS 1.0 has no key (on by default), TLS 1.3 is off.
        assert settings_.enabled_versions(side) == ("TLS 1.0", "TLS 1.1", "TLS 1.2")
        tls10 = settings_.protocol("TLS 1.0", side)
        assert tls10 is not None
        assert (tls10.key_exists, tls10.defaulted) == (False, True)
    # The client key lists DisabledByDefault first, the server key Enabled first.
    lines = {}
    for side in Side:
        setting = settings_.protocol("TLS 1.1", side)
        assert setting is not None
        assert setting.enabled_value is not None
        assert setting.enabled_value.source is not None
        lines[side] = setting.enabled_value.source.line
    assert lines == {Side.CLIENT: 9, Side.SERVER: 12}
