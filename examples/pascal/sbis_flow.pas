{ The SBIS / Saby EDO flow through signbridge's C ABI from Free Pascal, against the sandbox:
  send a contract (by path) to the counterparty named by its ИНН/КПП, with every file SBIS
  prepares signed by the library's software signer from a PEM key and certificate (a host
  without a crypto provider of its own; one with CryptoPro registers signbridge_set_host_signer
  instead), let the counterparty approve it through the sandbox's control routes (fphttpclient,
  used for nothing else), poll the status, read the document as SBIS gives it, and download the
  file as sent.

    SIGNBRIDGE_SBIS_PASSWORD=sandbox-secret sbis_flow SANDBOX_URL OUT_DIR KEY_PEM CERT_PEM

  The password comes from the environment, as secrets should.
  Build: fpc -Fuinclude -Fuexamples/pascal -Fltarget/debug examples/pascal/sbis_flow.pas }
program sbis_flow;

{$mode delphi}{$H+}{$codepage utf8}

uses
  {$IFDEF UNIX}cwstring,{$ENDIF}
  SysUtils, Classes, signbridge, example_support;

const
  { Cyrillic on purpose: the test script checks that the sandbox received these exact
    characters, which only holds when the source is read as UTF-8 ($codepage utf8) and the
    text stays in UTF8String all the way to the library. }
  Title: UTF8String = 'Договор поставки № 17 «Премьер» (Паскаль)';
  CounterpartyName: UTF8String = 'ОАО «СК Премьер» — отдел ЭДО';
  CounterpartyTaxId: UTF8String = '7601000985/760601001';

{ In production the counterparty approves in its own SBIS account; here a sandbox route. }
procedure SandboxApprove(const Base, Id: UTF8String);
begin
  SandboxPost(string(Base + '/__sandbox/sbis/documents/' + Id + '/counterparty-sign'), '{}');
end;

var
  Base, OutDir, Config, Envelope, Handle, Id, Args, Document, OriginalPath, Key: UTF8String;
  PdfPath: string;
  Client: PSignbridgeClient;
  Out: PAnsiChar;
  Original: TFileStream;
  Size: Int64;
begin
  ExampleName := 'sbis_flow';
  if ParamCount <> 4 then
  begin
    WriteLn(StdErr, 'usage: sbis_flow SANDBOX_URL OUT_DIR KEY_PEM CERT_PEM');
    Halt(2);
  end;
  if GetEnvironmentVariable('SIGNBRIDGE_SBIS_PASSWORD') = '' then
    Fail('set SIGNBRIDGE_SBIS_PASSWORD (the sandbox''s is sandbox-secret)');
  Base := UTF8String(ParamStr(1));
  OutDir := UTF8String(ParamStr(2));
  if signbridge_abi_version <> SIGNBRIDGE_UNIT_ABI_VERSION then
    Fail(Format('library ABI %d, unit ABI %d', [signbridge_abi_version, SIGNBRIDGE_UNIT_ABI_VERSION]));
  WriteLn('signbridge ', SignbridgeToString(signbridge_version), ', Free Pascal example, SBIS at ', Base);

  Client := nil;
  try
    Config := '{"provider":"sbis","settings":{"auth_url":' +
      JsonString(Base + '/sbis/auth/service/') + ',"service_url":' +
      JsonString(Base + '/sbis/service/?srv=1') +
      ',"login":"sandbox","our_inn":"7700000001","our_kpp":"770001001"}}';
    SignbridgeCheck(signbridge_client_new(PAnsiChar(Config), Client));
    { The library copies the PEM text: the key is wiped here at once. }
    Key := ReadText(ParamStr(3));
    try
      SignbridgeCheck(signbridge_set_software_signer_pem(Client,
        PAnsiChar(ReadText(ParamStr(4))), PAnsiChar(Key)));
    finally
      if Length(Key) > 0 then
        FillChar(Key[1], Length(Key), 0);
    end;

    PdfPath := IncludeTrailingPathDelimiter(string(OutDir)) + 'dogovor-pascal.pdf';
    WriteFile(PdfPath, MakePdf);
    Envelope := '{"reference":"PASCAL-SBIS-' + UTF8String(IntToStr(GetProcessID)) +
      '","title":' + JsonString(Title) +
      ',"documents":[{"path":' + JsonString(UTF8String(PdfPath)) + '}],"parties":[' +
      '{"name":' + JsonString(CounterpartyName) + ',"email":"edo@premier.example"' +
      ',"tax_id":' + JsonString(CounterpartyTaxId) + ',"role":"sign"}]}';
    SignbridgeCheck(signbridge_send(Client, PAnsiChar(Envelope), Out));
    Handle := SignbridgeTakeString(Out);
    Id := JsonField(Handle, 'id');
    WriteLn('sent "', Title, '" as sbis document ', Id);
    WaitForState(Client, Handle, 'sent');

    SandboxApprove(Base, Id);
    WaitForState(Client, Handle, 'completed');
    WriteLn(CounterpartyName, ' approved: completed');

    { The document as SBIS gives it (a provider call): the title came back as it went. }
    Args := '{"id":' + JsonString(Id) + '}';
    SignbridgeCheck(signbridge_call(Client, 'read', PAnsiChar(Args), Out));
    Document := SignbridgeTakeString(Out);
    if JsonField(Document, 'Примечание') <> Title then
      Fail('SBIS gives the title back as ' + string(JsonField(Document, 'Примечание')));

    OriginalPath := UTF8String(IncludeTrailingPathDelimiter(string(OutDir))) +
      'dogovor-' + Id + '-pascal.pdf';
    SignbridgeCheck(signbridge_download_to_file(Client, PAnsiChar(Handle), 'original',
      PAnsiChar(OriginalPath)));
    Original := TFileStream.Create(string(OriginalPath), fmOpenRead);
    try
      Size := Original.Size;
    finally
      Original.Free;
    end;
    if Size <> Length(MakePdf) then
      Fail(string(OriginalPath) + ' is not the file as sent');
    WriteLn('original: ', OriginalPath, ' (', Size, ' bytes)');
  except
    on E: ESignbridgeError do
      Fail(Format('signbridge error %d (HTTP %d): %s; provider: "%s"',
        [E.Code, E.HttpStatus, E.Message, E.ProviderMessage]));
  end;
  signbridge_client_free(Client);
end.
