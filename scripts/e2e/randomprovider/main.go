// A stand-in `pulumi-resource-random` for the e2e tier.
//
// pulumi-random's provider (github.com/pulumi/pulumi-random/provider/v4 and the shim module it
// replaces in) is not served by the Go module proxy these machines reach, so toolchain.sh builds
// this provider instead. It serves the two resources the Kubernetes target declares through
// pulumi-random's Python SDK, random:index/randomPassword:RandomPassword,
// random:index/randomString:RandomString, with their character-set inputs (length, lower, upper,
// numeric/number, special, overrideSpecial, min*) and keepers, and random:index/randomBytes:RandomBytes
// (length; base64 and hex outputs): values come from crypto/rand, passwords and bytes are returned as
// secrets, and any input change replaces the resource, as in pulumi-random.
// It is not pulumi-random: nothing here tests pulumi-random itself.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

var version = "4.21.4"

const (
	tokPassword = "random:index/randomPassword:RandomPassword"
	tokString   = "random:index/randomString:RandomString"
	tokBytes    = "random:index/randomBytes:RandomBytes"
)

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

var opts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, opts)
}
func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, opts)
}

func typeOf(urn string) string { return string(resource.URN(urn).Type()) }

func supported(urn string) error {
	switch typeOf(urn) {
	case tokPassword, tokString, tokBytes:
		return nil
	}
	return fmt.Errorf("the e2e stand-in random provider does not implement %s", typeOf(urn))
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: `{"name":"random","version":"` + version + `"}`}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func boolOr(m resource.PropertyMap, k string, d bool) bool {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsBool() {
		return v.BoolValue()
	}
	return d
}

func numOr(m resource.PropertyMap, k string, d float64) float64 {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsNumber() {
		return v.NumberValue()
	}
	return d
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := supported(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	l, ok := news["length"]
	if !ok || (!l.IsNumber() && !l.IsComputed()) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "length", Reason: "length is required and must be a number"})
	} else if l.IsNumber() && l.NumberValue() < 1 {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "length", Reason: "length must be at least 1"})
	}
	if typeOf(req.GetUrn()) == tokBytes {
		ins, err := marshal(news)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CheckResponse{Inputs: ins, Failures: failures}, nil
	}
	for _, k := range []string{"lower", "upper", "numeric", "special"} {
		if _, ok := news[resource.PropertyKey(k)]; !ok {
			news[resource.PropertyKey(k)] = resource.NewBoolProperty(true)
		}
	}
	if _, ok := news["number"]; !ok {
		news["number"] = news["numeric"]
	}
	for _, k := range []string{"minLower", "minUpper", "minNumeric", "minSpecial"} {
		if _, ok := news[resource.PropertyKey(k)]; !ok {
			news[resource.PropertyKey(k)] = resource.NewNumberProperty(0)
		}
	}
	ins, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: ins, Failures: failures}, nil
}

// Every input forces a new value, as in pulumi-random.
func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 { // older state without inputs: compare against the outputs
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
		for _, k := range []resource.PropertyKey{"result", "bcryptHash", "base64", "hex"} {
			delete(olds, k)
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range olds {
		keys[string(k)] = true
	}
	for k := range news {
		keys[string(k)] = true
	}
	var changed []string
	for k := range keys {
		o, n := olds[resource.PropertyKey(k)], news[resource.PropertyKey(k)]
		if n.ContainsUnknowns() || !o.DeepEquals(n) {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, Replaces: changed}, nil
}

const (
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars = "0123456789"
	specialChars = "!@#$%&*()-_=+[]{}<>:?"
)

func pick(set string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, err
	}
	return set[n.Int64()], nil
}

func generate(in resource.PropertyMap) (string, error) {
	length := int(numOr(in, "length", 0))
	special := specialChars
	if v, ok := in["overrideSpecial"]; ok && v.IsString() {
		special = v.StringValue()
	}
	type class struct {
		on    bool
		chars string
		min   int
	}
	classes := []class{
		{boolOr(in, "lower", true), lowerChars, int(numOr(in, "minLower", 0))},
		{boolOr(in, "upper", true), upperChars, int(numOr(in, "minUpper", 0))},
		{boolOr(in, "numeric", true) && boolOr(in, "number", true), numericChars, int(numOr(in, "minNumeric", 0))},
		{boolOr(in, "special", true), special, int(numOr(in, "minSpecial", 0))},
	}
	var all string
	var out []byte
	for _, c := range classes {
		if !c.on || c.chars == "" {
			continue
		}
		all += c.chars
		for i := 0; i < c.min; i++ {
			b, err := pick(c.chars)
			if err != nil {
				return "", err
			}
			out = append(out, b)
		}
	}
	if all == "" {
		return "", fmt.Errorf("every character class is turned off")
	}
	for len(out) < length {
		b, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, b)
	}
	// shuffle so the minimum-count characters are not all in front
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := supported(req.GetUrn()); err != nil {
		return nil, err
	}
	in, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	outs := in.Copy()
	if typeOf(req.GetUrn()) == tokBytes {
		if req.GetPreview() {
			outs["base64"] = resource.MakeComputed(resource.NewStringProperty(""))
			outs["hex"] = resource.MakeComputed(resource.NewStringProperty(""))
		} else {
			raw := make([]byte, int(numOr(in, "length", 0)))
			if _, err := rand.Read(raw); err != nil {
				return nil, err
			}
			outs["base64"] = resource.MakeSecret(resource.NewStringProperty(base64.StdEncoding.EncodeToString(raw)))
			outs["hex"] = resource.MakeSecret(resource.NewStringProperty(hex.EncodeToString(raw)))
		}
	} else if req.GetPreview() {
		outs["result"] = resource.MakeComputed(resource.NewStringProperty(""))
	} else {
		v, err := generate(in)
		if err != nil {
			return nil, err
		}
		r := resource.NewStringProperty(v)
		if typeOf(req.GetUrn()) == tokPassword {
			r = resource.MakeSecret(r)
		}
		outs["result"] = r
	}
	props, err := marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: "none", Properties: props}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	// Diff replaces on every input change; an update only rewrites the same outputs.
	return &pulumirpc.UpdateResponse{Properties: req.GetOlds()}, nil
}

func (p *provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-version" {
		fmt.Println(version)
		return
	}
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, &provider{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start the random provider: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "random provider stopped: %v\n", err)
		os.Exit(1)
	}
}
