{ What the Free Pascal examples share: JSON text, a sample PDF, files, the sandbox's control
  routes (which stand in for people clicking in the provider's portal) and waiting for a state.
  Not part of signbridge's API: the examples keep it next to them so each stays short. }
unit example_support;

{$mode delphi}{$H+}{$codepage utf8}

interface

uses
  SysUtils, Classes, fphttpclient, fpjson, jsonparser, signbridge;

var
  { Prefixes Fail's message; each example sets it to its own name first. }
  ExampleName: string;

procedure Fail(const Message: string);
function JsonString(const S: UTF8String): UTF8String;
function MakePdf: RawByteString;
procedure WriteFile(const Path: string; const Bytes: RawByteString);
function JsonField(const Json, Path: UTF8String): UTF8String;
function ReadText(const Path: string): UTF8String;
procedure SandboxPost(const Url: string; const Body: UTF8String);
procedure WaitForState(Client: PSignbridgeClient; const Handle, Want: UTF8String);

implementation

procedure Fail(const Message: string);
begin
  WriteLn(StdErr, ExampleName, ': ', Message);
  Halt(1);
end;

{ A JSON string literal of S. }
function JsonString(const S: UTF8String): UTF8String;
var
  I: Integer;
begin
  Result := '"';
  for I := 1 to Length(S) do
    case S[I] of
      '"', '\': Result := Result + '\' + S[I];
      #0..#31: Result := Result + UTF8String(Format('\u%.4x', [Ord(S[I])]));
    else
      Result := Result + S[I];
    end;
  Result := Result + '"';
end;

{ A one-page PDF with correct cross-reference offsets. }
function MakePdf: RawByteString;
const
  Stream = 'BT /F1 18 Tf 72 770 Td (Contrato de prestacao de servicos) Tj ET';
var
  Objects: array[1..5] of RawByteString;
  Offsets: array[1..5] of Integer;
  I, Xref: Integer;
begin
  Objects[1] := '<< /Type /Catalog /Pages 2 0 R >>';
  Objects[2] := '<< /Type /Pages /Kids [3 0 R] /Count 1 >>';
  Objects[3] := '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R ' +
    '/Resources << /Font << /F1 5 0 R >> >> >>';
  Objects[4] := Format('<< /Length %d >>'#10'stream'#10'%s'#10'endstream', [Length(Stream), Stream]);
  Objects[5] := '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  Result := '%PDF-1.4'#10;
  for I := 1 to 5 do
  begin
    Offsets[I] := Length(Result);
    Result := Result + Format('%d 0 obj'#10'%s'#10'endobj'#10, [I, Objects[I]]);
  end;
  Xref := Length(Result);
  Result := Result + 'xref'#10'0 6'#10'0000000000 65535 f '#10;
  for I := 1 to 5 do
    Result := Result + Format('%.10d 00000 n '#10, [Offsets[I]]);
  Result := Result + Format('trailer'#10'<< /Size 6 /Root 1 0 R >>'#10'startxref'#10'%d'#10'%%%%EOF'#10, [Xref]);
end;

procedure WriteFile(const Path: string; const Bytes: RawByteString);
var
  F: TFileStream;
begin
  F := TFileStream.Create(Path, fmCreate);
  try
    F.WriteBuffer(Bytes[1], Length(Bytes));
  finally
    F.Free;
  end;
end;

{ A string field of a JSON object. }
function JsonField(const Json, Path: UTF8String): UTF8String;
var
  Data: TJSONData;
begin
  Data := GetJSON(Json);
  try
    Result := Data.FindPath(Path).AsString;
  finally
    Data.Free;
  end;
end;

{ A whole text file (a PEM key or certificate). }
function ReadText(const Path: string): UTF8String;
var
  F: TFileStream;
begin
  F := TFileStream.Create(Path, fmOpenRead);
  try
    SetLength(Result, F.Size);
    if F.Size > 0 then
      F.ReadBuffer(Result[1], F.Size);
  finally
    F.Free;
  end;
end;


{ POSTs Body (JSON) to a sandbox control route; fails unless it answers 2xx. }
procedure SandboxPost(const Url: string; const Body: UTF8String);
var
  Http: TFPHTTPClient;
begin
  Http := TFPHTTPClient.Create(nil);
  try
    Http.AddHeader('Content-Type', 'application/json');
    Http.RequestBody := TMemoryStream.Create;
    Http.RequestBody.WriteBuffer(Body[1], Length(Body));
    Http.RequestBody.Position := 0;
    Http.Post(Url);
    if Http.ResponseStatusCode div 100 <> 2 then
      Fail(Format('POST %s answered HTTP %d', [Url, Http.ResponseStatusCode]));
  finally
    Http.RequestBody.Free;
    Http.Free;
  end;
end;

{ Polls the status until its state is Want; fails on a dead end or after 30 s. }
procedure WaitForState(Client: PSignbridgeClient; const Handle, Want: UTF8String);
var
  Attempt: Integer;
  Status: PAnsiChar;
  State: UTF8String;
begin
  for Attempt := 1 to 300 do
  begin
    SignbridgeCheck(signbridge_status(Client, PAnsiChar(Handle), Status));
    State := JsonField(SignbridgeTakeString(Status), 'state');
    if State = Want then
      Exit;
    if (State = 'rejected') or (State = 'cancelled') then
      Fail('document stopped at ' + string(State));
    Sleep(100);
  end;
  Fail('document did not reach ' + string(Want) + ' within 30 s');
end;

end.
