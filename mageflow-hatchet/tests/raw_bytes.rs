//! Undecodable protobuf bytes sent straight to the fake engine get an error status.

mod common;

use bytes::{Buf, BufMut};
use common::{fake, within};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Sends and receives raw message bytes.
#[derive(Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[tokio::test]
async fn undecodable_messages_get_an_error_status_and_the_fake_keeps_serving() {
    let (fake, conn) = fake().await;
    let channel = Channel::from_shared(conn.config().endpoint_uri()).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let garbage: [&[u8]; 3] = [
        &[0xff, 0xff, 0xff],       // truncated varint tag
        &[0x08, 0x01],             // field 1 (a string) sent as a varint
        &[0x0a, 0x02, 0xff, 0xfe], // field 1 with invalid UTF-8
    ];
    for path in [
        "/WorkflowService/TriggerWorkflow",
        "/Dispatcher/SendStepActionEvent",
        "/Dispatcher/Register",
        "/v1.AdminService/PutWorkflow",
    ] {
        for bytes in garbage {
            within(grpc.ready()).await.unwrap();
            let mut request = Request::new(bytes.to_vec());
            request.metadata_mut().insert("authorization", format!("Bearer {}", fake.token()).parse().unwrap());
            let result = within(grpc.unary(request, PathAndQuery::from_static(path), RawCodec)).await;
            let status = result.expect_err("garbage must be rejected");
            assert_eq!(status.code(), Code::Internal, "{path} {bytes:?}: {status}");
        }
    }
    assert_eq!(within(conn.get_version()).await.unwrap(), mageflow_hatchet::fake::DEFAULT_VERSION);
}
